"""The one door to the ElevenLabs API: `http` speaks HTTP, `elevenlabs` maps wire ↔ model."""
