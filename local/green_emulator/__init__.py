"""A faithful local emulator of Alibaba Cloud Content Moderation (Green), image API 2018-05-09.

See README.md beside this file, or run `python -m green_emulator --help`.
"""

from green_emulator.config import ConfigError, EmulatorConfig, Faults
from green_emulator.scripting import make_image, read_script
from green_emulator.server import RunningEmulator, start_emulator

__all__ = ["ConfigError", "EmulatorConfig", "Faults", "RunningEmulator", "make_image", "read_script", "start_emulator"]
