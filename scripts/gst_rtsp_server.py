#!/usr/bin/python3
"""An independent RTSP server for camsdk's conformance tests and benchmarks.

Runs with the *system* Python (``/usr/bin/python3``), which has GStreamer's
``gi`` bindings from Debian (python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-{base,good,bad}); camsdk's own Python never imports it.

How it works: an ``ffmpeg -re -stream_loop -1 -i CLIP -c copy -f mpegts``
child sends the clip in real time, forever, as MPEG-TS over UDP on loopback.
One *shared* GstRtspServer media (``udpsrc ! tsdemux ! parse ! rtp*pay``)
turns it into RTSP, so every client sees the same live stream and joins in
the middle of a GOP, as with a real camera. Clients may use RTP over TCP
(interleaved) or over UDP; both are offered.

    /usr/bin/python3 scripts/gst_rtsp_server.py --size 320x240 --fps 30 --gop 15
    /usr/bin/python3 scripts/gst_rtsp_server.py --clip my.mp4 --port 8554

Without ``--clip`` a test clip is made first with the ffmpeg CLI (testsrc2,
libx264 or libx265, optional AAC tone) in a temporary directory. When the
server listens, one line goes to stdout::

    READY rtsp://127.0.0.1:PORT/stream

It runs until SIGTERM/SIGINT or until stdin closes (so a parent that dies
takes it along), then stops ffmpeg and removes its temporary files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading


def _die_with_parent() -> None:
    """In a child: get SIGTERM when this script dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nobody uses right now (for the ffmpeg feed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_clip(args: argparse.Namespace, workdir: str) -> str:
    """Encode a looping test clip with the ffmpeg CLI; return its path."""
    width, height = args.size.split("x")
    path = os.path.join(workdir, "clip.mkv")
    encoder = "libx265" if args.codec == "h265" else "libx264"
    params = f"keyint={args.gop}:min-keyint={args.gop}:scenecut=0:bframes=0:repeat-headers=1"
    cmd = [
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={args.fps}",
    ]
    if args.audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-t", str(args.seconds), "-c:v", encoder, "-preset", "ultrafast", "-tune",
            "zerolatency", "-pix_fmt", "yuv420p", "-b:v", args.bitrate,
            "-maxrate", args.bitrate, "-bufsize", args.bitrate]
    cmd += ["-x265-params" if encoder == "libx265" else "-x264-params",
            params + (":log-level=error" if encoder == "libx265" else "")]
    if args.audio:
        cmd += ["-c:a", "aac", "-b:a", "64k", "-ac", "1"]
    cmd.append(path)
    subprocess.run(cmd, check=True)
    return path


def build_launch(udp_port: int, codec: str, audio: bool) -> str:
    """The gst-launch description of the shared media."""
    parse, pay = ("h265parse", "rtph265pay") if codec == "h265" else ("h264parse", "rtph264pay")
    launch = (
        f"( udpsrc address=127.0.0.1 port={udp_port} buffer-size=8388608 "
        'caps="video/mpegts,systemstream=(boolean)true,packetsize=(int)188" '
        "! tsdemux name=demux "
        # The clip repeats its parameter sets before every keyframe already. Letting
        # the parser or payloader insert more would put them before *each* slice of
        # an IDR picture, which splits one picture into two packets for clients.
        f"demux. ! queue ! {parse} ! {pay} name=pay0 pt=96 config-interval=0 "
    )
    if audio:
        launch += "demux. ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 "
    return launch + ")"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="RTSP port (0: pick a free one)")
    parser.add_argument("--mount", default="/stream")
    parser.add_argument("--clip", help="a file ffmpeg can read (-c copy); default: generate one")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--gop", type=int, default=15)
    parser.add_argument("--bitrate", default="500k")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--audio", action="store_true", help="add an AAC tone track")
    parser.add_argument("--warm", action="store_true",
                        help="keep the media running between clients (faster opens)")
    args = parser.parse_args()

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    workdir = tempfile.mkdtemp(prefix="camsdk-gst-rtsp-")
    feeder: subprocess.Popen[bytes] | None = None
    keeper: subprocess.Popen[bytes] | None = None
    try:
        clip = args.clip or make_clip(args, workdir)
        udp_port = free_udp_port()

        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(build_launch(udp_port, args.codec, args.audio))
        # One media for every client: a camera has one encoder, clients join mid-GOP.
        factory.set_shared(True)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)

        server = GstRtspServer.RTSPServer()
        server.set_address("127.0.0.1")
        server.set_service(str(args.port))
        # Hundreds of clients connect at once in the benchmarks.
        server.set_backlog(1024)
        server.get_mount_points().add_factory(args.mount, factory)
        if server.attach(None) == 0:
            print("ERROR cannot listen", file=sys.stderr, flush=True)
            return 1
        port = server.get_bound_port()
        feeder = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1",
             "-i", clip, "-c", "copy", "-f", "mpegts",
             f"udp://127.0.0.1:{udp_port}?pkt_size=1316"],
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

        loop = GLib.MainLoop()

        def stop(*_: object) -> bool:
            loop.quit()
            return False

        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)

        def watch_stdin() -> None:
            # EOF on stdin: the parent went away. os.read, not sys.stdin: a
            # daemon thread must not hold the buffered reader's lock at exit.
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            GLib.idle_add(stop)

        threading.Thread(target=watch_stdin, daemon=True).start()

        def watch_feeder() -> bool:
            if feeder is not None and feeder.poll() is not None:
                print(f"ERROR ffmpeg feeder exited with {feeder.returncode}", file=sys.stderr,
                      flush=True)
                loop.quit()
                return False
            return True

        GLib.timeout_add(500, watch_feeder)
        url = f"rtsp://127.0.0.1:{port}{args.mount}"
        if args.warm:
            # A client of our own keeps the shared media running, so others join
            # a live pipeline (as with a camera an NVR already watches) instead of
            # waiting for it to start. READY follows once the media is prepared.
            def on_configure(_factory: object, media: object) -> None:
                media.connect("prepared", lambda _m: print(f"READY {url}", flush=True))

            factory.connect("media-configure", on_configure)
            keeper = subprocess.Popen(
                ["ffmpeg", "-nostdin", "-loglevel", "quiet", "-rtsp_transport", "tcp",
                 "-i", url, "-c", "copy", "-f", "null", "-"],
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        else:
            print(f"READY {url}", flush=True)
        loop.run()
        return 0
    finally:
        for child in (keeper, feeder):
            if child is not None and child.poll() is None:
                child.terminate()
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
