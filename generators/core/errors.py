"""Errors a generator raises. The server maps each to a gRPC status; nothing here knows gRPC."""

SHORT_REPR_CHARS = 64


def short_repr(value: object, limit: int = SHORT_REPR_CHARS) -> str:
    """`repr(value)` for an error message, cut when long (`'xxxx…' (10000 characters)`): a
    message echoes what a caller sent, and a caller can send megabytes."""
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        return f"{repr(value[:limit])[:-1]}…{text[-1]} ({len(value)} characters)"
    return f"{text[:limit]}… ({len(text)} characters)"


class GeneratorError(Exception):
    """Base class of every error a request can cause."""


class UnknownModel(GeneratorError):
    """No model of that name is registered (NOT_FOUND)."""

    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, sorted(known)
        super().__init__(f"unknown model {short_repr(name)}; known models: {', '.join(self.known) or 'none'}")


class UnknownCategory(GeneratorError):
    """The model does not know that category (NOT_FOUND)."""

    def __init__(self, model: str, category: str, known: list[str]):
        self.model, self.category, self.known = model, category, list(known)
        super().__init__(
            f"model {short_repr(model)} has no category {short_repr(category)}; categories: {', '.join(self.known)}"
        )


class InvalidOption(GeneratorError):
    """An option is out of range or not accepted by the model (INVALID_ARGUMENT)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class Cancelled(GeneratorError):
    """The caller cancelled the work (CANCELLED); raised from `CancelToken.check`."""


class GenerationFailed(GeneratorError):
    """This spec could not be made (INTERNAL); the other specs of its batch are unaffected."""


class EmptyShape(GenerationFailed):
    """A shape model produced no surface for a seed (reported, never served as garbage)."""


class ModelLoadError(Exception):
    """A model cannot serve (missing or corrupt weights, bad config): refuse to start."""
