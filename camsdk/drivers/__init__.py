"""Built-in camera drivers, one package or module per vendor or protocol.

Nothing here is imported by ``import camsdk``: the registry imports a driver
the first time its URL scheme is used.
"""
