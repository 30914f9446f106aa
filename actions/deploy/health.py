"""The HTTP health check run after a deploy and after each shift.

A new version that answers its health URL with anything but the expected status, or not
within the timeout, is not healthy; the runner then rolls traffic back.
"""

from __future__ import annotations

import aiohttp

from actions.deploy.base import BackendError


class HealthCheckFailed(BackendError):
    """The health URL did not answer as expected; the message says how it answered."""


class HealthCheck:
    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        expected_status: int = 200,
        timeout: float = 5.0,
    ) -> None:
        self._session = session
        self.expected_status = expected_status
        self.timeout = timeout

    async def check(
        self, url: str, *, expected_status: int | None = None, timeout: float | None = None
    ) -> None:
        """Per-call values (from the environment's config) win over the defaults."""
        expected = expected_status or self.expected_status
        seconds = timeout or self.timeout
        client_timeout = aiohttp.ClientTimeout(total=seconds)
        own = self._session is None
        session = self._session or aiohttp.ClientSession()
        try:
            async with session.get(url, timeout=client_timeout, allow_redirects=False) as response:
                if response.status != expected:
                    raise HealthCheckFailed(
                        f"{url} answered {response.status}, expected {expected}"
                    )
        except TimeoutError:
            raise HealthCheckFailed(f"{url} did not answer within {seconds:g}s") from None
        except aiohttp.ClientError as exc:
            raise HealthCheckFailed(f"{url} could not be reached ({type(exc).__name__})") from exc
        finally:
            if own:
                await session.close()
