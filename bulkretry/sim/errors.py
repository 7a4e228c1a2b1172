"""The errors the simulated service answers with, in OMS's shape: an HTTP status, an error code and a message."""

from __future__ import annotations

__all__ = ["SimError", "bad_param", "not_found"]


class SimError(Exception):
    """An error the simulated service answers with: HTTP status plus an OMS error code and message."""

    def __init__(self, status: int, error_code: str, error_msg: str) -> None:
        super().__init__(f"HTTP {status} {error_code}: {error_msg}")
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg

    def body(self) -> dict[str, str]:
        """The JSON body OMS sends for this error."""
        return {"error_code": self.error_code, "error_msg": self.error_msg}


def bad_param(message: str) -> SimError:
    """400 ``OMS.0002``: a parameter of the path, query or body the service does not accept."""
    return SimError(400, "OMS.0002", f"Invalid parameter: {message}")


def not_found(noun: str) -> SimError:
    """404 ``OMS.1009`` for a *noun* ("task group", "task") that does not exist. The id is never echoed: a
    group id may hold anything."""
    return SimError(404, "OMS.1009", f"The {noun} does not exist")
