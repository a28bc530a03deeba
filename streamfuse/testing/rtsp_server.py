"""A real RTSP server for tests: Debian's ``gst-rtsp-server`` through GObject introspection.

Run with the *system* Python (``/usr/bin/python3``, which has ``gi``; packages
``gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-good``)::

    /usr/bin/python3 streamfuse/testing/rtsp_server.py PORT [USER PASSWORD]   # a path: no package import

It serves four cameras, each a moving ball on black of its own colour, motion and tick rate:
``/cam1`` (red, wavy, 25 fps), ``/cam2`` (green, wavy, 10 fps), ``/cam3`` (blue, sweeping, 5 fps)
and ``/cam4`` (white, sweeping horizontally, 2 fps), 320x240 Motion-JPEG over RTP, over TCP or UDP as the client asks; with
USER and PASSWORD, basic authentication is required. It prints ``ready`` once listening. This
module imports nothing from streamfuse, so it runs outside the project's environment.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    port = argv[0]
    user, password = (argv[1], argv[2]) if len(argv) >= 3 else (None, None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    mounts = server.get_mount_points()
    for name, fps, colour, motion in (("cam1", 25, "0xffff0000", "wavy"), ("cam2", 10, "0xff00ff00", "wavy"),
                                      ("cam3", 5, "0xff0000ff", "sweep"), ("cam4", 2, "0xffffffff", "hsweep")):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f"( videotestsrc is-live=true pattern=ball motion={motion} foreground-color={colour} "
            f"! video/x-raw,width=320,height=240,framerate={fps}/1 ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26 )")
        factory.set_shared(True)
        if user:
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_permission_for_role("viewer", "media.factory.access", True)
            permissions.add_permission_for_role("viewer", "media.factory.construct", True)
            factory.set_permissions(permissions)
        mounts.add_factory(f"/{name}", factory)
    if user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
    if server.attach(None) == 0:
        print("cannot listen", flush=True)
        return 1
    print("ready", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
