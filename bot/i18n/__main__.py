"""``python -m bot.i18n`` (``make messages``): bring every catalogue up to date with the code."""

import sys

from bot.i18n.extract import main

sys.exit(main())
