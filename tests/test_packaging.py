"""What only this project can check of its package; hassfest and HACS (validate.yml) check the rest.

Home Assistant loads it; quality_scale.yaml (hassfest skips it for a custom integration); every
translation the code uses (and none it does not) in ten languages; icons; brand images; the release
workflow's zip; and the CI workflows that run the validators and the tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from functools import cache
import importlib
import inspect
import json
from pathlib import Path
import shutil
import string
import subprocess
import sys
from types import SimpleNamespace
from typing import Any
import zipfile

from awesomeversion import AwesomeVersion
from homeassistant.components.brands.const import ALLOWED_IMAGES
from homeassistant.config_entries import ConfigFlow
from homeassistant.const import Platform, __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import update_coordinator
import homeassistant.loader
from homeassistant.loader import async_get_integration
from homeassistant.util.yaml import load_yaml_dict
from PIL import Image
import probatio
import pytest
import yaml

from custom_components.orangepower_bmw import (
    binary_sensor,
    number,
    schedule,
    sensor,
)
from custom_components.orangepower_bmw.const import DOMAIN

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN
WORKFLOWS = ROOT / ".github" / "workflows"

BRAND_SIZES = {
    "icon.png": (256, 256),
    "icon@2x.png": (512, 512),
    "logo.png": (640, 256),
    "logo@2x.png": (1280, 512),
    "dark_logo.png": (640, 256),
    "dark_logo@2x.png": (1280, 512),
}

# A translation's path of keys, e.g. ("config", "error", "invalid_auth").
type Key = tuple[str, ...]


def load_json(path: Path) -> Any:
    """Return a JSON file's content, keeping the order of its keys."""
    return json.loads(path.read_text(encoding="utf-8"))


MANIFEST: dict[str, Any] = load_json(INTEGRATION / "manifest.json")
HACS: dict[str, Any] = load_json(ROOT / "hacs.json")
EN: dict[str, Any] = load_json(INTEGRATION / "translations" / "en.json")
# English and the nine languages of BMW's European markets the other BMW integrations ship.
LANGUAGES = ("da", "de", "en", "es", "fr", "it", "nb", "nl", "pl", "sv")
TRANSLATIONS: dict[str, dict[str, Any]] = {
    path.stem: load_json(path) for path in sorted((INTEGRATION / "translations").glob("*.json"))
}
ICONS: dict[str, Any] = load_json(INTEGRATION / "icons.json")


def leaves(tree: Mapping[str, Any], prefix: Key = ()) -> dict[Key, str]:
    """Return every string of a translation tree by its path of keys."""
    found: dict[Key, str] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            found.update(leaves(value, (*prefix, key)))
        else:
            found[(*prefix, key)] = value
    return found


def placeholders(text: str) -> set[str]:
    """Return the names of a translation's {placeholders}."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# The manifest and hacs.json: hassfest checks the manifest's keys, their order and values; HACS checks
# hacs.json's keys and types, and the manifest keys it needs.


async def test_home_assistant_loads_the_integration(hass: HomeAssistant) -> None:
    """This Home Assistant loads it, a custom integration with no requirements to install."""
    integration = await async_get_integration(hass, DOMAIN)

    assert not integration.is_built_in
    assert integration.version == AwesomeVersion(MANIFEST["version"])
    assert integration.config_flow
    assert integration.has_translations
    assert integration.has_branding
    assert integration.requirements == []
    # hassfest only warns of a core integration of the same domain, which this one would shadow.
    assert not (Path(homeassistant.loader.__file__).parent / "components" / DOMAIN).exists()
    # GitHub handles: neither validator checks their form for a custom integration.
    assert all(owner.startswith("@") for owner in MANIFEST["codeowners"])
    # The Home Assistant the tests run on is one that hacs.json lets install it.
    assert AwesomeVersion(HACS["homeassistant"]) <= AwesomeVersion(ha_version)


# quality_scale.yaml
#
# hassfest checks this file only for core integrations and its validator is not shipped in any
# package (it lives in Home Assistant's repository, script/hassfest/), so these tests check what it
# checks, written for this package: the file's form, and for each rule marked done that hassfest
# checks in the code, that the code does it.

QUALITY_SCALE: dict[str, Any] = load_yaml_dict(INTEGRATION / "quality_scale.yaml")
RULES: dict[str, Any] = QUALITY_SCALE["rules"]


def status(rule: str) -> str:
    """Return a rule's status, written either bare (`rule: done`) or as a mapping."""
    value = RULES[rule]
    return str(value["status"] if isinstance(value, dict) else value)


@cache
def module(name: str) -> ast.Module:
    """Return a module of the package, parsed."""
    return ast.parse((INTEGRATION / f"{name}.py").read_text(encoding="utf-8"))


def top_level_function(tree: ast.Module, name: str) -> ast.AsyncFunctionDef | None:
    """Return a module's own `async def name`, if it has one."""
    found = [node for node in tree.body if isinstance(node, ast.AsyncFunctionDef)]
    return next((node for node in found if node.name == name), None)


def defines(tree: ast.AST, name: str) -> bool:
    """Return whether an `async def name` is anywhere in a tree (a flow's steps are methods)."""
    return any(
        isinstance(node, ast.AsyncFunctionDef) and node.name == name for node in ast.walk(tree)
    )


def calls(tree: ast.AST, method: str) -> bool:
    """Return whether a tree calls `something.method(...)`."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        for node in ast.walk(tree)
    )


PLATFORM_MODULES = sorted(
    platform.value for platform in Platform if (INTEGRATION / f"{platform.value}.py").exists()
)


def test_quality_scale_form() -> None:
    """Each of hassfest's rules once: bare todo or done, or a status with a comment; exempt says why."""
    assert QUALITY_SCALE.keys() == {"rules"}
    # The rules as hassfest knows them: every core integration's quality_scale.yaml lists exactly
    # these.
    core = Path(homeassistant.loader.__file__).parent / "components"
    (known,) = {
        frozenset(load_yaml_dict(path)["rules"]) for path in core.glob("*/quality_scale.yaml")
    }
    assert len(known) == 54
    assert RULES.keys() == known
    for name, rule in RULES.items():
        if isinstance(rule, dict):
            # hassfest refuses a mapping without a comment: a bare status says the same.
            assert rule.keys() == {"status", "comment"}, name
            assert isinstance(rule["comment"], str), name
            assert rule["comment"].strip(), name
        else:
            assert rule in {"done", "todo"}, f"{name}: an exempt rule needs a comment"
        assert status(name) in {"done", "todo", "exempt"}, name
    # Where the integration stands: every rule met but the one that waits for publication.
    assert {name for name in RULES if status(name) == "todo"} == {"integration-owner"}


def test_quality_scale_rules_hassfest_checks_in_the_code() -> None:
    """For each rule marked done that hassfest checks in the code, the code does it."""
    init = module("__init__")
    flow = module("config_flow")
    done = {name for name in RULES if status(name) == "done"}
    assert done >= {
        "config-flow",
        "runtime-data",
        "test-before-setup",
        "unique-config-entry",
        "config-entry-unloading",
        "parallel-updates",
        "reauthentication-flow",
        "diagnostics",
        "reconfiguration-flow",
        "has-entity-name",
        "strict-typing",
    }

    # config-flow
    assert MANIFEST["config_flow"] is True
    # runtime-data: async_setup_entry(hass, entry) stores its coordinator in entry.runtime_data.
    setup_entry = top_level_function(init, "async_setup_entry")
    assert setup_entry is not None
    assert [arg.arg for arg in setup_entry.args.args] == ["hass", "entry"]
    assert any(
        isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and ast.unparse(node) == "entry.runtime_data"
        for node in ast.walk(setup_entry)
    )
    # test-before-setup: the first refresh runs in async_setup_entry, and setup raises one of the
    # exceptions that tell Home Assistant to retry or to ask for the password.
    assert calls(setup_entry, "async_config_entry_first_refresh")
    # unique-config-entry: one entry per BMW account.
    assert calls(flow, "async_set_unique_id")
    assert calls(flow, "_abort_if_unique_id_configured")
    # config-entry-unloading, reauthentication-flow, reconfiguration-flow
    assert top_level_function(init, "async_unload_entry") is not None
    assert defines(flow, "async_step_reauth")
    assert defines(flow, "async_step_reconfigure")
    # diagnostics
    diagnostics = module("diagnostics")
    assert top_level_function(diagnostics, "async_get_config_entry_diagnostics") is not None
    assert top_level_function(diagnostics, "async_get_device_diagnostics") is not None
    # parallel-updates: every platform says how many updates may run at once.
    assert PLATFORM_MODULES == ["binary_sensor", "number", "sensor"]
    for name in PLATFORM_MODULES:
        assert any(
            isinstance(node, ast.Assign)
            and [ast.unparse(target) for target in node.targets] == ["PARALLEL_UPDATES"]
            for node in module(name).body
        ), name


def typed_entry_arguments() -> Iterator[tuple[str, ast.arg]]:
    """Yield the config entry argument of each function Home Assistant calls with one."""
    entry_functions = {
        "__init__": [
            "async_setup_entry",
            "async_unload_entry",
            "async_remove_entry",
            "async_migrate_entry",
            "async_remove_config_entry_device",
        ],
        "diagnostics": ["async_get_config_entry_diagnostics", "async_get_device_diagnostics"],
        **{name: ["async_setup_entry"] for name in PLATFORM_MODULES},
    }
    for name, functions in entry_functions.items():
        tree = module(name)
        for function in functions:
            # The entry is the second argument, after hass.
            if (defined := top_level_function(tree, function)) is not None:
                yield f"{name}.{function}", defined.args.args[1]
    for node in ast.walk(module("config_flow")):
        if isinstance(node, ast.FunctionDef) and node.name == "async_get_options_flow":
            yield "config_flow.async_get_options_flow", node.args.args[0]


def test_strict_typing_and_a_typed_entry() -> None:
    """strict-typing: mypy is strict on the package, and each entry argument has the typed entry."""
    found = dict(typed_entry_arguments())
    assert len(found) == 11
    for where, argument in found.items():
        assert argument.annotation is not None, where
        assert ast.unparse(argument.annotation) == "OrangePowerConfigEntry", where
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    assert "[mypy-custom_components.*]\nstrict = true" in setup
    assert (ROOT / "scripts" / "test").read_text(encoding="utf-8").count("mypy") >= 1


def test_has_entity_name() -> None:
    """has-entity-name: every entity class of the package names itself from its device."""
    classes: dict[str, tuple[list[str], bool]] = {}
    for path in INTEGRATION.glob("*.py"):
        for node in ast.walk(module(path.stem)):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base).split("[")[0] for base in node.bases]
                sets = any(
                    isinstance(item, ast.Assign)
                    and ast.unparse(item) == "_attr_has_entity_name = True"
                    for item in node.body
                )
                classes[node.name] = (bases, sets)

    def named(name: str) -> bool:
        bases, sets = classes.get(name, ([], False))
        return sets or any(named(base) for base in bases)

    entities = sorted(
        name
        for name, (bases, _) in classes.items()
        if name.endswith("Entity") or any(base.endswith("Entity") for base in bases)
    )
    assert entities == [
        "AccountSensor",
        "CarBinarySensor",
        "CarSensor",
        "ChargingNumber",
        "OrangePowerEntity",
    ]
    assert all(named(name) for name in entities)


def test_exempt_rules_hold() -> None:
    """What the exempt rules claim: no actions, no conditions or triggers, nothing to discover."""
    for rule in ("action-setup", "docs-actions", "docs-conditions", "docs-triggers", "discovery"):
        assert status(rule) == "exempt", rule
    # The manifest keys that ask for discovery; each has a config flow step of its name.
    discovery = {"bluetooth", "dhcp", "homekit", "mqtt", "ssdp", "usb", "zeroconf"}
    names = {path.name for path in INTEGRATION.iterdir()}
    assert not names & {"services.yaml", "condition.py", "trigger.py", "device_trigger.py"}
    for path in INTEGRATION.glob("*.py"):
        tree = module(path.stem)
        assert not calls(tree, "async_register_entity_service"), path.name
        assert not any(
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("services.async_register")
            for node in ast.walk(tree)
        ), path.name
        assert not any(
            isinstance(node, ast.AsyncFunctionDef)
            and node.name.startswith("async_step_")
            and node.name.removeprefix("async_step_") in {*discovery, "discovery", "hassio"}
            for node in ast.walk(tree)
        ), path.name
    assert not MANIFEST.keys() & discovery


# The code's shape (issue 17): small files, classes and functions; a coordinator that only fetches.


def test_the_code_stays_small() -> None:
    """No file over 400 lines, no class over 250, no function over 60, and the coordinator with
    at most 12 attributes of its own (beside those Home Assistant's coordinator sets)."""
    for path in INTEGRATION.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name
        for node in ast.walk(module(path.stem)):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                most = 250 if isinstance(node, ast.ClassDef) else 60
                assert node.end_lineno - node.lineno < most, (path.name, node.name)

    def stored(tree: ast.AST) -> set[str]:
        return {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and ast.unparse(node.value) == "self"
        }

    (coordinator,) = (
        node
        for node in ast.walk(module("coordinator"))
        if isinstance(node, ast.ClassDef) and node.name == "OrangePowerCoordinator"
    )
    inherited = stored(ast.parse(inspect.getsource(update_coordinator)))
    assert len(stored(coordinator) - inherited) <= 12


# What the code asks of the translations


def entity_translation_paths() -> set[Key]:
    """Return the name of every entity and the state names of every enum sensor.

    An entity without a translation key is named by its device class, in Home Assistant's words.
    """
    paths: set[Key] = set()
    for platform, descriptions in (
        ("sensor", (*sensor.SENSORS, *sensor.ACCOUNT_SENSORS)),
        ("binary_sensor", binary_sensor.BINARY_SENSORS),
        ("number", number.NUMBERS),
    ):
        for description in descriptions:
            key = description.translation_key
            if key is None:
                assert description.device_class is not None, description.key
                continue
            paths.add(("entity", platform, key, "name"))
            for option in getattr(description, "options", None) or ():
                paths.add(("entity", platform, key, "state", option))
            # What an unknown estimate waits for: its attribute's name and states.
            for wait in getattr(description, "waits_for", ()):
                prefix = ("entity", platform, key, "state_attributes", "waiting_for")
                paths.update({(*prefix, "name"), (*prefix, "state", wait.value)})
    # The account sensors' attributes, read from a coordinator with a limit; the reason is one of
    # the schedule's.
    limited = SimpleNamespace(budget=SimpleNamespace(limit=48), next_update_reason="interval")
    for description in sensor.ACCOUNT_SENSORS:
        for attribute in description.attributes_fn(limited):  # type: ignore[arg-type]
            prefix = ("entity", "sensor", description.key, "state_attributes", attribute)
            paths.add((*prefix, "name"))
            if attribute == "reason":
                paths.update((*prefix, "state", reason.value) for reason in schedule.Reason)
    return paths


FUNCTION = ast.FunctionDef | ast.AsyncFunctionDef
PACKAGE = {
    path.stem: importlib.import_module(f"custom_components.{DOMAIN}.{path.stem}")
    for path in INTEGRATION.glob("*.py")
}
_DEFINED = [
    (name, node)
    for name in PACKAGE
    for node in ast.walk(module(name))
    if isinstance(node, FUNCTION)
]
# The package's functions by name, with their module; a name defined twice is left out.
FUNCTIONS = {
    node.name: (name, node)
    for name, node in _DEFINED
    if [other.name for _, other in _DEFINED].count(node.name) == 1
}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    """Return the value of a call's keyword argument, if given."""
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _dict_keys(node: ast.expr | None) -> set[str]:
    """Return the constant keys of a dict display."""
    if not isinstance(node, ast.Dict):
        return set()
    return {key.value for key in node.keys if isinstance(key, ast.Constant)}


def _called_name(call: ast.Call) -> str:
    """Return the name of the called function: `f(...)`, `self.f(...)` or `ir.f(...)`."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def key_values(node: ast.expr, function: ast.AST, name: str) -> list[str]:
    """Return the strings a key expression in module `name` can be.

    A string; either side of `a if c else b`; every string a package function returns
    (`error_key(err)`); a walrus's value; a parameter's arguments at every call of its function;
    `f"{key}_out_of_range"` over the keys of each module-level dict the function uses.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return key_values(node.body, function, name) + key_values(node.orelse, function, name)
    if isinstance(node, ast.Call) and (called := _called_name(node)) in FUNCTIONS:
        home, defined = FUNCTIONS[called]
        return [
            key
            for ret in ast.walk(defined)
            if isinstance(ret, ast.Return) and ret.value is not None
            for key in key_values(ret.value, defined, home)
        ]
    if isinstance(node, ast.JoinedStr):
        dicts = [
            value
            for used in ast.walk(function)
            if isinstance(used, ast.Name)
            and isinstance(value := getattr(PACKAGE[name], used.id, None), dict)
        ]
        assert dicts, f"cannot tell which keys {ast.unparse(node)} stands for"
        template = "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
        return [template.format(key) for mapping in dicts for key in mapping]
    if not isinstance(node, ast.Name) or not isinstance(function, FUNCTION):
        return []
    for walrus in ast.walk(function):
        if isinstance(walrus, ast.NamedExpr) and walrus.target.id == node.id:
            return key_values(walrus.value, function, name)
    parameters = [arg.arg for arg in function.args.args]
    if node.id not in parameters:
        return []
    index = parameters.index(node.id) - (parameters[0] == "self")
    return [
        key
        for call in ast.walk(module(name))
        if isinstance(call, ast.Call) and _called_name(call) == function.name
        for key in key_values(
            call.args[index] if index < len(call.args) else _keyword(call, node.id),
            function,
            name,
        )
    ]


def _walk(node: ast.AST, section: str, function: ast.AST) -> Iterator[tuple[str, ast.AST, ast.AST]]:
    """Yield every node below `node` with its flow section (options in an options flow) and function."""
    for child in ast.iter_child_nodes(node):
        child_section = section
        if isinstance(child, ast.ClassDef):
            bases = {ast.unparse(base) for base in child.bases}
            child_section = "options" if any("OptionsFlow" in base for base in bases) else "config"
        child_function = child if isinstance(child, FUNCTION) else function
        yield child_section, child_function, child
        yield from _walk(child, child_section, child_function)


def _implied_abort(method: str) -> str | None:
    """Return the abort reason a ConfigFlow helper uses when the call gives none."""
    helper = getattr(ConfigFlow, method, None)
    if helper is None or not method.startswith("_abort_if"):
        return None
    parameters = inspect.signature(helper).parameters
    for name in ("reason", "error"):
        if name in parameters and isinstance(parameters[name].default, str):
            return parameters[name].default
    return None


def _form_fields(name: str, schema_argument: ast.expr | None) -> list[str]:
    """Return the fields of a form's schema: a module-level schema or `x_schema(...)`'s."""
    fields: list[str] = []
    for used in ast.walk(schema_argument or ast.Constant(None)):
        schema = getattr(PACKAGE[name], getattr(used, "id", ""), None)
        if callable(schema) and used.id.endswith("_schema"):  # type: ignore[attr-defined]
            schema = schema(set())  # options_schema(own_entities)
        if isinstance(schema, probatio.Schema):
            fields.extend(str(field) for field in schema.schema)
    return fields


def used_translations() -> tuple[set[Key], dict[Key, set[str]]]:
    """Return every translation path the code uses, and the placeholders given where it says.

    Forms (config, or options in an options flow): `errors[field] = key`, `{"base": key}`,
    `reason=key` or an `_abort_if...` helper's reason, `step_id=` with its schema's fields;
    `translation_key=` of an exception (with a translation domain) or of a repair.
    """
    paths = entity_translation_paths()
    given: dict[Key, set[str]] = {}
    for name in PACKAGE:
        for section, function, node in _walk(module(name), "config", module(name)):
            values: list[str] = []
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Subscript) and ast.unparse(target.value) == "errors"
                for target in node.targets
            ):
                values = key_values(node.value, function, name)
            elif isinstance(node, ast.Dict) and "base" in _dict_keys(node):
                base = [getattr(key, "value", None) for key in node.keys].index("base")
                values = key_values(node.values[base], function, name)
            paths.update((section, "error", key) for key in values)
            if not isinstance(node, ast.Call):
                continue
            if (reason := _keyword(node, "reason")) is not None:
                paths.update((section, "abort", key) for key in key_values(reason, function, name))
            elif implied := _implied_abort(_called_name(node)):
                paths.add((section, "abort", implied))
            if (step := _keyword(node, "step_id")) is not None:
                (step_id,) = key_values(step, function, name)
                prefix = (section, "step", step_id)
                paths.update({(*prefix, "title"), (*prefix, "description")})
                for field in _form_fields(name, _keyword(node, "data_schema")):
                    paths.update({(*prefix, "data", field), (*prefix, "data_description", field)})
                given[(*prefix, "description")] = _dict_keys(
                    _keyword(node, "description_placeholders")
                )
            if _called_name(node) == "async_create_issue":
                kind, leaf_names = "issues", ("title", "description")
            elif _keyword(node, "translation_domain") is not None:
                kind, leaf_names = "exceptions", ("message",)
            else:
                continue
            key = _keyword(node, "translation_key")
            assert key is not None, ast.unparse(node)
            keys = key_values(key, function, name)
            assert keys, f"cannot tell the keys of {ast.unparse(key)} in {name}.py"
            passed = _dict_keys(_keyword(node, "translation_placeholders"))
            for path in {(kind, value, leaf) for value in keys for leaf in leaf_names}:
                paths.add(path)
                given[path] = given.get(path, passed) & passed
    return paths, given


def test_code_and_english_texts_match() -> None:
    """Every form, field, error, abort, entity, state and exception the code uses has an English
    text, and every English text is used, so none is left over from a removed feature."""
    used, _ = used_translations()
    missing = sorted(path for path in used if path not in leaves(EN))
    assert missing == []
    orphans = sorted(path for path in leaves(EN) if path not in used)
    assert orphans == []


def test_placeholders_are_given() -> None:
    """A text's {placeholders} are ones the code fills in, so users never see braces."""
    _, given = used_translations()
    for language in TRANSLATIONS.values():
        for path, text in leaves(language).items():
            assert placeholders(text) <= given.get(path, set()), path


def test_the_ten_languages_are_shipped() -> None:
    assert tuple(TRANSLATIONS) == LANGUAGES


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_a_language_matches_english(language: str) -> None:
    """Each language has exactly the English texts, each with the same placeholders, none empty."""
    english, translated = leaves(EN), leaves(TRANSLATIONS[language])
    assert sorted(translated) == sorted(english)
    for path, text in english.items():
        assert placeholders(translated[path]) == placeholders(text), path
        assert translated[path].strip(), path


def test_icons_match_entities() -> None:
    """An entity without a device class has an icon entry; icon states are states it can have.

    An entity with a device class may leave its icon to it (the plug's own icons, say).
    """
    entities = EN["entity"]
    drawn_by_device_class = {
        (platform, description.translation_key)
        for platform, descriptions in (
            ("sensor", sensor.SENSORS),
            ("binary_sensor", binary_sensor.BINARY_SENSORS),
            ("number", number.NUMBERS),
        )
        for description in descriptions
        if description.device_class is not None
    }
    for platform, keys in entities.items():
        for key in keys:
            assert key in ICONS["entity"][platform] or (platform, key) in drawn_by_device_class, key
    for platform, keys in ICONS["entity"].items():
        for key, icons in keys.items():
            possible = set(entities[platform][key].get("state", {}))
            if platform == "binary_sensor":
                possible = {"on", "off"}
            assert set(icons.get("state", {})) <= possible, (platform, key)
            assert all(float(level) >= 0 for level in icons.get("range", {})), (platform, key)


# Brand images


def test_brand_images_are_the_ones_home_assistant_serves() -> None:
    """Every file in brand/ has a name Home Assistant serves; none is silently ignored."""
    names = {path.name for path in (INTEGRATION / "brand").iterdir()}
    assert names == BRAND_SIZES.keys()
    assert names <= ALLOWED_IMAGES


@pytest.mark.parametrize(("name", "size"), BRAND_SIZES.items())
def test_brand_image(name: str, size: tuple[int, int]) -> None:
    """The image has the brands size, a transparent background, and no empty margin."""
    with Image.open(INTEGRATION / "brand" / name) as image:
        assert image.format == "PNG"
        assert image.size == size
        assert image.mode == "RGBA"
        alpha = image.getchannel("A")
        assert alpha.getpixel((0, 0)) == 0
        assert alpha.getbbox() == (0, 0, *size)


def test_dark_logo_differs() -> None:
    """The dark-theme logo is its own drawing (the light one's outline vanishes on dark)."""
    with (
        Image.open(INTEGRATION / "brand" / "logo.png") as light,
        Image.open(INTEGRATION / "brand" / "dark_logo.png") as dark,
    ):
        assert light.tobytes() != dark.tobytes()


# Workflows


def load_workflow(name: str) -> dict[Any, Any]:
    """Return a workflow; YAML reads its `on:` key as True, so it is put back as "on"."""
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    """Return the steps of every job."""
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def run_release_steps(workdir: Path, tag: str) -> subprocess.CompletedProcess[str]:
    """Run the release workflow's Python steps in `workdir` for a release tagged `tag`."""
    result = subprocess.CompletedProcess[str]([], 0, "", "")
    for step in steps(load_workflow("release.yml")):
        if step.get("shell") == "python":
            result = subprocess.run(  # noqa: S603 (the workflow's own code)
                [sys.executable, "-c", step["run"]],
                cwd=workdir,
                env={"TAG": tag},
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode:
                break
    return result


def copy_integration(workdir: Path) -> Path:
    """Copy the integration into a scratch checkout, with a byte-code cache to leave out."""
    target = workdir / "custom_components" / DOMAIN
    shutil.copytree(INTEGRATION, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "__pycache__").mkdir()
    (target / "__pycache__" / "api.cpython-314.pyc").write_bytes(b"")
    return target


def test_release_zip(tmp_path: Path) -> None:
    """A release's zip is the one hacs.json names, with the integration at its root at the tag's version."""
    copy_integration(tmp_path)

    result = run_release_steps(tmp_path, "v1.2.3")

    assert result.returncode == 0, result.stderr
    assert HACS["zip_release"] is True
    with zipfile.ZipFile(tmp_path / HACS["filename"]) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert {"__init__.py", "translations/en.json", "icons.json", "brand/icon.png"} <= names
    assert not any("__pycache__" in name for name in names)
    assert manifest["version"] == "1.2.3"
    assert manifest == {**MANIFEST, "version": "1.2.3"}
    assert list(manifest) == list(MANIFEST)


def test_release_refuses_a_tag_that_is_not_a_version(tmp_path: Path) -> None:
    """A release tagged with something that is not a version gets no zip rather than a broken one."""
    target = copy_integration(tmp_path)

    result = run_release_steps(tmp_path, "latest")

    assert result.returncode != 0
    assert "'latest' is not a version" in result.stderr
    assert load_json(target / "manifest.json") == MANIFEST
    assert not (tmp_path / HACS["filename"]).exists()


def test_ci_workflows() -> None:
    """Tests run scripts/test on Python 3.14 with Playwright's Chromium; validation runs hassfest and HACS.

    A GitHub runner is not root and its apt chromium is a snap shim, so scripts/setup installs no
    browser there: after it has made .venv, the venv's Playwright installs Chromium with its system
    libraries, and a step puts Playwright's executable path into CHROMIUM through $GITHUB_ENV, which
    the browser tests read before looking for a system Chromium. They run rather than skip.
    """
    tests = load_workflow("tests.yml")
    assert {"push", "pull_request"} <= tests["on"].keys()
    assert {"run": "scripts/test"} in steps(tests)
    python = next(step for step in steps(tests) if "setup-python" in step.get("uses", ""))
    assert python["with"]["python-version"] == "3.14"

    runs = [step.get("run", "") for step in steps(tests)]

    def first(what: str) -> int:
        """Return the index of the first step whose command holds `what`."""
        found = [i for i, run in enumerate(runs) if what in run]
        assert found, f"no step runs {what!r}"
        return found[0]

    setup = runs.index("scripts/setup")
    install = first(".venv/bin/python -m playwright install --with-deps chromium")
    set_env = first('>> "$GITHUB_ENV"')
    assert "CHROMIUM=" in runs[set_env]
    assert "chromium.executable_path" in runs[set_env]
    assert setup < install < set_env < runs.index("scripts/test")
    browser_tests = (ROOT / "tests" / "e2e" / "test_browser_frontend.py").read_text(
        encoding="utf-8"
    )
    assert 'os.environ.get("CHROMIUM")' in browser_tests

    validate = steps(load_workflow("validate.yml"))
    uses = {step.get("uses", "").split("@")[0]: step for step in validate}
    assert "home-assistant/actions/hassfest" in uses
    assert uses["hacs/action"]["with"]["category"] == "integration"
