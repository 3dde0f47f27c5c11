"""Targets: NMDA receptor channel block and the other receptors, transporters and channels."""
