"""The WebRTC lesson's Python peer: joins a room through the api's signaling, opens a channel."""
