"""The shared media pipeline (private): sessions, readers, decoder, queues."""
