// The requester's live viewer: a one-time ticket (in the URL fragment, never sent to
// the server as part of the page request) opens the WebSocket; fragmented MP4 goes
// into Media Source Extensions. When access ends, the server says why and the video stops.
"use strict";

const viewer = { state: "connecting", reason: "", chunks: 0, bytes: 0, audio: false };
window.viewerState = viewer;

function status(text, detail = "") {
  viewer.state = text;
  document.getElementById("status").textContent = text;
  document.getElementById("detail").textContent = detail;
}

function start() {
  const ticket = new URLSearchParams(location.hash.slice(1)).get("ticket");
  if (!ticket) { status("no ticket", "Open the viewer link the API gave you."); return; }
  history.replaceState(null, "", location.pathname);  // the ticket is spent: keep it out of history
  const video = document.getElementById("video");
  const sound = document.getElementById("sound");
  sound.addEventListener("click", () => {
    video.muted = !video.muted;
    sound.textContent = video.muted ? "Sound on" : "Sound off";
  });
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/v1/live/ws?ticket=${encodeURIComponent(ticket)}`);
  socket.binaryType = "arraybuffer";
  const queue = [];
  let buffer = null;
  let media = null;

  function pump() {
    if (!buffer || buffer.updating || !queue.length) return;
    try { buffer.appendBuffer(queue.shift()); } catch (e) { status("error", String(e)); socket.close(); }
  }

  function stop(reason) {
    if (viewer.state === "ended") return;
    viewer.reason = reason;
    status("ended", reason);
    queue.length = 0;
    video.pause();
    if (media && media.readyState === "open") { try { media.endOfStream(); } catch (e) { /* already ended */ } }
  }

  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data);
      if (message.type === "init") {
        if (!MediaSource.isTypeSupported(message.mime)) { stop(`this browser cannot play ${message.mime}`); socket.close(); return; }
        media = new MediaSource();
        video.src = URL.createObjectURL(media);
        media.addEventListener("sourceopen", () => {
          buffer = media.addSourceBuffer(message.mime);
          buffer.mode = "segments";
          buffer.addEventListener("updateend", () => {
            // Stay near the live edge: jump ahead when more than two seconds behind.
            const ranges = buffer.buffered;
            if (ranges.length) {
              const end = ranges.end(ranges.length - 1);
              if (video.currentTime < ranges.start(0) || end - video.currentTime > 2) video.currentTime = Math.max(ranges.start(0), end - 0.3);
            }
            pump();
          });
          pump();
        });
        status("playing", `${message.width}x${message.height}${message.transcoded ? ", masked" : ""}${message.audio ? ", with sound" : ""}`);
        viewer.audio = Boolean(message.audio);
        // Browsers autoplay muted video only: the viewer turns the sound on.
        if (message.audio) sound.classList.remove("hidden");
        video.play().catch(() => {});
      } else if (message.type === "end") {
        stop(message.reason);
      }
      return;
    }
    viewer.chunks += 1;
    viewer.bytes += event.data.byteLength;
    queue.push(event.data);
    pump();
  });
  socket.addEventListener("close", (event) => stop(viewer.reason || `connection closed (${event.code})`));
}

document.addEventListener("DOMContentLoaded", start);
