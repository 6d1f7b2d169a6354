"""Local Telegram Bot API double ("sandbox") for development, tests and benchmarks.

Self-contained: imports nothing from the rest of the product.

    from sandbox import SandboxServer, SandboxClient
    server = await SandboxServer(flood_limits=False).start("127.0.0.1", 0)
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)))
    client = SandboxClient(server.base_url)
"""

from .limits import FaultConfig, FaultInjector, FloodConfig, FloodLimiter
from .server import SandboxServer, create_app, main
from .spec import Violation, validate_call
from .state import SandboxState

__all__ = [
    "SandboxServer",
    "SandboxState",
    "SandboxClient",
    "create_app",
    "main",
    "validate_call",
    "Violation",
    "FloodConfig",
    "FloodLimiter",
    "FaultConfig",
    "FaultInjector",
]


def __getattr__(name: str):  # lazy: the client needs httpx, the server does not
    if name == "SandboxClient":
        from .client import SandboxClient

        return SandboxClient
    raise AttributeError(name)
