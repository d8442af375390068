"""The rewrite strategies, one libcst codemod per module, each named for what it rewrites.

`PIPELINE` is the order the engine chains them in one file; `STRATEGY_IDS` maps the strategy id a rule names
(`rules/patterns/*.toml`, `rewrite = "..."`) to the codemod that implements it.
"""

from __future__ import annotations

from migrate.rewrite.strategies import module_client_calls
from migrate.rewrite.strategies.client_construction import ClientConstruction
from migrate.rewrite.strategies.dict_response_access import DictResponseAccess
from migrate.rewrite.strategies.error_classes import ErrorClasses
from migrate.rewrite.strategies.module_api_to_client import ModuleApiToClient
from migrate.rewrite.strategies.module_client_calls import ModuleClientCalls
from migrate.rewrite.strategies.module_config_to_configure import ModuleConfigToConfigure
from migrate.rewrite.strategies.wrapper_clients import WrapperClients

# Config goes last: it is the only step that may insert a line (in "keep" mode), so every site recorded
# before it carries its original line number.
PIPELINE = (ErrorClasses, ModuleApiToClient, ModuleClientCalls, ClientConstruction, WrapperClients,
            DictResponseAccess)
LAST = (ModuleConfigToConfigure,)

STRATEGY_IDS = {
    "client-constructor": ClientConstruction,
    "keep-call": ModuleClientCalls,
    "v0-resource-call": ModuleApiToClient,
    "v0-config": ModuleConfigToConfigure,
    "v0-exception": ErrorClasses,
    "response-access": DictResponseAccess,
    "wrapper-base-url": WrapperClients,
}
# Strategies that never change code: the site is left and reported with the rule's reason.
REPORTING = module_client_calls.REPORTING

ALL = (*PIPELINE, *LAST)
__all__ = ["ALL", "DictResponseAccess", "LAST", "PIPELINE", "REPORTING", "STRATEGY_IDS"]
