"""Sign language from MediaPipe Holistic poses (pose_sign_language.txt): extraction, features, data."""

__all__ = []
