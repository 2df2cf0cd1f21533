"""Constants for the Orange Power BMW integration."""

from datetime import timedelta
from typing import Final

DOMAIN: Final = "orangepower_bmw"

CONF_ACCOUNT_EMAIL: Final = "account_email"
CONF_TOKEN: Final = "token"
CONF_ACTIVE_INTERVAL: Final = "active_interval"
CONF_IDLE_INTERVAL: Final = "idle_interval"
CONF_REFRESH_ENTITIES: Final = "refresh_entities"
CONF_DAILY_REQUEST_LIMIT: Final = "daily_request_limit"

# Polling intervals in minutes: while a car is charging, and while none is.
DEFAULT_ACTIVE_INTERVAL: Final = 5
MIN_ACTIVE_INTERVAL: Final = 1
MAX_ACTIVE_INTERVAL: Final = 60
DEFAULT_IDLE_INTERVAL: Final = 15
MIN_IDLE_INTERVAL: Final = 5
MAX_IDLE_INTERVAL: Final = 240

# Requests a day to the service; 0 means no limit.
DEFAULT_DAILY_REQUEST_LIMIT: Final = 0
MIN_DAILY_REQUEST_LIMIT: Final = 10
MAX_DAILY_REQUEST_LIMIT: Final = 2000

# A token with less than this left is renewed before the poll rather than risked.
TOKEN_RENEW_MARGIN: Final = timedelta(minutes=5)
