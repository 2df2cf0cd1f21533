"""Config flow: add a BMW account, re-authenticate, reconfigure, and tune polling."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, CONF_URL, UnitOfTime
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import dt as dt_util
import probatio

from .api import (
    DEFAULT_BASE_URL,
    Credentials,
    InvalidCredentialsError,
    OrangePowerClient,
    OrangePowerError,
    error_key,
)
from .const import (
    CONF_ACCOUNT_EMAIL,
    CONF_ACTIVE_INTERVAL,
    CONF_DAILY_REQUEST_LIMIT,
    CONF_IDLE_INTERVAL,
    CONF_REFRESH_ENTITIES,
    CONF_TOKEN,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_DAILY_REQUEST_LIMIT,
    DEFAULT_IDLE_INTERVAL,
    DOMAIN,
    MAX_ACTIVE_INTERVAL,
    MAX_DAILY_REQUEST_LIMIT,
    MAX_IDLE_INTERVAL,
    MIN_ACTIVE_INTERVAL,
    MIN_DAILY_REQUEST_LIMIT,
    MIN_IDLE_INTERVAL,
)
from .coordinator import EntryRequests, OrangePowerConfigEntry
from .models import Token
from .store import token_for_entry
from .validation import (
    account_id,
    account_title,
    input_errors,
    normalized,
    refused_login_error,
)

_LOGGER = logging.getLogger(__name__)

EMAIL_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.EMAIL, autocomplete="username")
)
PASSWORD_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
MINUTES_SELECTOR = NumberSelector(
    NumberSelectorConfig(
        mode=NumberSelectorMode.BOX, step=1, unit_of_measurement=UnitOfTime.MINUTES
    )
)

USER_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_EMAIL): EMAIL_SELECTOR,
        probatio.Required(CONF_PASSWORD): PASSWORD_SELECTOR,
        probatio.Optional(CONF_ACCOUNT_EMAIL): EMAIL_SELECTOR,
        probatio.Optional(CONF_URL, default=DEFAULT_BASE_URL): URL_SELECTOR,
    }
)
REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_PASSWORD): PASSWORD_SELECTOR})
# The MyBMW e-mail is the account itself: shown in the form's description, not a field.
RECONFIGURE_SCHEMA = probatio.Schema(
    {
        probatio.Optional(CONF_PASSWORD): PASSWORD_SELECTOR,
        probatio.Optional(CONF_ACCOUNT_EMAIL): EMAIL_SELECTOR,
        probatio.Required(CONF_URL): URL_SELECTOR,
    }
)


def options_schema(own_entities: set[str]) -> probatio.Schema:
    """Return the options form; the trigger picker offers other integrations' entities only."""
    return probatio.Schema(
        {
            probatio.Required(CONF_ACTIVE_INTERVAL): MINUTES_SELECTOR,
            probatio.Required(CONF_IDLE_INTERVAL): MINUTES_SELECTOR,
            # This integration's entities change with every poll: they would trigger it on and on.
            probatio.Optional(CONF_REFRESH_ENTITIES): EntitySelector(
                EntitySelectorConfig(multiple=True, exclude_entities=sorted(own_entities))
            ),
            probatio.Optional(
                CONF_DAILY_REQUEST_LIMIT, default=DEFAULT_DAILY_REQUEST_LIMIT
            ): NumberSelector(NumberSelectorConfig(mode=NumberSelectorMode.BOX, min=0, step=1)),
        }
    )


INTERVAL_RANGES = {
    CONF_ACTIVE_INTERVAL: (MIN_ACTIVE_INTERVAL, MAX_ACTIVE_INTERVAL),
    CONF_IDLE_INTERVAL: (MIN_IDLE_INTERVAL, MAX_IDLE_INTERVAL),
}


# The errors after which the password is not shown again: it may be what the service refused.
REFUSED_PASSWORD = {"invalid_auth", "invalid_auth_account", "empty_password"}


class OrangePowerConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add an Orange Power BMW account."""

    VERSION = 1
    MINOR_VERSION = 2

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: OrangePowerConfigEntry) -> OrangePowerOptionsFlow:
        """Return the options flow."""
        return OrangePowerOptionsFlow()

    async def _validate(
        self, data: dict[str, Any], entry: ConfigEntry | None = None
    ) -> tuple[dict[str, str], Token | None]:
        """Check the input, then log in and list the cars; return the form errors or the token.

        For an entry (reauth, reconfigure) both requests count against its daily limit, which
        must allow both: a login is no use without the list it is for.
        """
        if errors := input_errors(data):
            return errors, None
        requests = await EntryRequests.async_load(self.hass, entry) if entry else None
        if requests is not None and not requests.budget.allows(dt_util.utcnow(), 2):
            return {"base": "daily_limit_reached"}, None
        client = OrangePowerClient(
            async_get_clientsession(self.hass),
            Credentials(data[CONF_EMAIL], data[CONF_PASSWORD], data[CONF_ACCOUNT_EMAIL]),
            data[CONF_URL],
            before_request=requests.count if requests else None,
        )
        try:
            token = await client.check()
        except InvalidCredentialsError:
            return {"base": refused_login_error(data)}, None
        except OrangePowerError as err:
            return {"base": error_key(err)}, None
        except Exception:
            _LOGGER.exception("Unexpected error while checking the account")
            return {"base": "unknown"}, None
        finally:
            if requests is not None:
                await requests.async_save()
        return {}, token

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the BMW account and the service's address."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = normalized(user_input, user_input[CONF_PASSWORD])
            # A form left open or closed mid-way must not block the account: no in-progress check.
            await self.async_set_unique_id(account_id(data[CONF_EMAIL]), raise_on_progress=False)
            self._abort_if_unique_id_configured()
            errors, token = await self._validate(data)
            if token is not None:
                return self.async_create_entry(
                    title=account_title(data[CONF_EMAIL], self._titles()),
                    data={**data, CONF_TOKEN: token_for_entry(token)},
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                USER_SCHEMA, _shown_again(user_input, errors)
            ),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: dict[str, Any]) -> ConfigFlowResult:
        """Start re-authentication when the service refused the stored password."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the account's new password."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = normalized(dict(entry.data), user_input[CONF_PASSWORD])
            errors, token = await self._validate(data, entry)
            if token is not None:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_PASSWORD: data[CONF_PASSWORD],
                        CONF_TOKEN: token_for_entry(token),
                    },
                    reason="reauth_successful",
                )
            # The form has only the password: an error about a stored setting goes on top of it.
            errors = {(key if key == CONF_PASSWORD else "base"): err for key, err in errors.items()}
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=REAUTH_SCHEMA,
            errors=errors,
            description_placeholders={"email": entry.data[CONF_EMAIL]},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the service's address, the Orange Power account or the password."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            password = user_input.get(CONF_PASSWORD) or entry.data[CONF_PASSWORD]
            data = normalized({**user_input, CONF_EMAIL: entry.data[CONF_EMAIL]}, password)
            if all(entry.data.get(key) == value for key, value in data.items()):
                # Nothing changed: no sign-in that would spend two of the day's requests; the
                # reload tries the entry again as it is.
                return self.async_update_reload_and_abort(entry, reason="reconfigure_successful")
            errors, token = await self._validate(data, entry)
            if token is not None:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={**data, CONF_TOKEN: token_for_entry(token)},
                    reason="reconfigure_successful",
                )
        suggested = _shown_again(user_input, errors) or {
            # The account e-mail is shown empty when it is the MyBMW e-mail, as it was typed.
            CONF_ACCOUNT_EMAIL: ""
            if account_id(entry.data[CONF_ACCOUNT_EMAIL]) == account_id(entry.data[CONF_EMAIL])
            else entry.data[CONF_ACCOUNT_EMAIL],
            CONF_URL: entry.data[CONF_URL],
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(RECONFIGURE_SCHEMA, suggested),
            errors=errors,
            description_placeholders={"email": entry.data[CONF_EMAIL]},
        )

    def _titles(self) -> list[str]:
        """Return the titles of this integration's entries, for a new one to differ from."""
        return [entry.title for entry in self._async_current_entries(include_ignore=False)]


def _shown_again(values: dict[str, Any] | None, errors: dict[str, str]) -> dict[str, Any]:
    """Return what was typed, to show on the form again: the password too, unless refused.

    A form that empties the password at every error sends the user back to a field they did not
    get wrong; a password the service refused is typed again.
    """
    refused = {errors.get("base"), errors.get(CONF_PASSWORD)} & REFUSED_PASSWORD
    return {
        key: value
        for key, value in (values or {}).items()
        if key != CONF_TOKEN and not (key == CONF_PASSWORD and refused)
    }


class OrangePowerOptionsFlow(OptionsFlowWithReload):
    """Tune how often the account is polled."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the polling intervals, the entities that trigger a poll, and a daily limit."""
        errors: dict[str, str] = {}
        if user_input is not None:
            for key, (low, high) in INTERVAL_RANGES.items():
                value = user_input[key]
                if not float(value).is_integer() or not low <= value <= high:
                    errors[key] = f"{key}_out_of_range"
            limit = user_input[CONF_DAILY_REQUEST_LIMIT]
            if not float(limit).is_integer() or (
                limit and not MIN_DAILY_REQUEST_LIMIT <= limit <= MAX_DAILY_REQUEST_LIMIT
            ):
                errors[CONF_DAILY_REQUEST_LIMIT] = "daily_request_limit_out_of_range"
            refresh_entities = list(user_input.get(CONF_REFRESH_ENTITIES, []))
            if set(refresh_entities) & self._own_entities():
                # A poll that changes an entity would trigger the next poll, on and on.
                errors[CONF_REFRESH_ENTITIES] = "own_entity"
            if not errors:
                return self.async_create_entry(
                    data={
                        **{key: int(user_input[key]) for key in INTERVAL_RANGES},
                        CONF_REFRESH_ENTITIES: refresh_entities,
                        CONF_DAILY_REQUEST_LIMIT: int(limit),
                    }
                )
        current = {
            CONF_ACTIVE_INTERVAL: DEFAULT_ACTIVE_INTERVAL,
            CONF_IDLE_INTERVAL: DEFAULT_IDLE_INTERVAL,
            CONF_REFRESH_ENTITIES: [],
            CONF_DAILY_REQUEST_LIMIT: DEFAULT_DAILY_REQUEST_LIMIT,
            **self.config_entry.options,
            **(user_input or {}),
        }
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                options_schema(self._own_entities()), current
            ),
            errors=errors,
            # Which account: with two, the dialog would not say.
            description_placeholders={"account": self.config_entry.title},
        )

    def _own_entities(self) -> set[str]:
        """Return the entity ids of this integration, in any of its entries."""
        return {
            entity.entity_id
            for entity in er.async_get(self.hass).entities.values()
            if entity.platform == DOMAIN
        }
