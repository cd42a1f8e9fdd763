"""Errors a generator raises. The server maps each to a gRPC status; nothing here knows gRPC."""


class GeneratorError(Exception):
    """Base class of every error a request can cause."""


class UnknownModel(GeneratorError):
    """No model of that name is registered (NOT_FOUND)."""

    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, sorted(known)
        super().__init__(f"unknown model {name!r}; known models: {', '.join(self.known) or 'none'}")


class UnknownCategory(GeneratorError):
    """The model does not know that category (NOT_FOUND)."""

    def __init__(self, model: str, category: str, known: list[str]):
        self.model, self.category, self.known = model, category, list(known)
        super().__init__(
            f"model {model!r} has no category {category!r}; categories: {', '.join(self.known)}"
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
