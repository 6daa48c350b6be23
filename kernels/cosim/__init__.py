"""The notebook-side CoSim API: ``cosim.viewer(...)`` (more arrives with its issues)."""

__all__ = [
    "Recording",
    "RecordingError",
    "__version__",
    "available_models",
    "model_path",
    "snapshot",
    "viewer",
]


def __getattr__(name: str) -> object:
    # Imported lazily: `import cosim` stays cheap and needs no simulator installed.
    if name == "__version__":
        import cosim_protocol

        return cosim_protocol.__version__
    if name == "viewer":
        from .live_viewer import viewer

        return viewer
    if name in ("Recording", "RecordingError"):
        from . import recording

        return recording.Recording if name == "Recording" else recording.fmt.RecordingError
    if name in ("model_path", "available_models"):
        from . import models

        return getattr(models, name)
    if name == "snapshot":
        from .snapshots.notebook import snapshot

        return snapshot
    raise AttributeError(f"module 'cosim' has no attribute {name!r}")
