"""Exceptions autoq raises for bad input; the CLI prints them as one clear line, never a traceback."""


class AutoqError(Exception):
    """Base class: a problem with the user's input or environment, explained in the message."""


class ConfigError(AutoqError):
    """The YAML config (or the dict/dataclass given to the API) is invalid."""

    def __init__(self, message, *, key=None, line=None, source=None):
        self.key, self.line, self.source = key, line, source
        where = ""
        if source:
            where += f"{source}:"
            if line:
                where += f"{line}:"
            where += " "
        elif line:
            where += f"line {line}: "
        if key:
            where += f"{key}: "
        super().__init__(where + message)
        self.plain = message


class QuantizerError(AutoqError):
    """A quantizer spec such as ``quantized_bits(4,0,alpha=1)`` cannot be parsed or built."""


class DataError(AutoqError):
    """A dataset is missing, unreadable, or does not fit the model."""


class SpaceError(AutoqError):
    """The search space does not fit the model (unknown layer, unquantizable layer, empty choice...)."""


class ResultsError(AutoqError):
    """An output directory cannot be used (owned by another search, incomplete...)."""


class ExportError(AutoqError):
    """Base class of every error autoq export/report raises for bad input (the CLI prints it, exit code 2)."""


class UnsupportedModelError(ExportError):
    """A layer, activation or quantizer hls4ml cannot implement bit-exactly."""
