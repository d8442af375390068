"""The rewrite strategies, one libcst codemod per module, each named for what it rewrites.

`PIPELINE` is the order the engine chains them in one file; `STRATEGY_IDS` maps the strategy id a rule names
(`rules/patterns/*.toml`, `rewrite = "..."`) to the codemod that implements it.
"""

from __future__ import annotations

from offramp.migrate.rewrite.strategies import module_client_calls
from offramp.migrate.rewrite.strategies.client_construction import ClientConstruction
from offramp.migrate.rewrite.strategies.dict_response_access import DictResponseAccess
from offramp.migrate.rewrite.strategies.error_classes import ErrorClasses
from offramp.migrate.rewrite.strategies.module_api_to_client import ModuleApiToClient
from offramp.migrate.rewrite.strategies.module_client_calls import ModuleClientCalls
from offramp.migrate.rewrite.strategies.module_config_to_configure import ModuleConfigToConfigure
from offramp.migrate.rewrite.strategies.offramp_imports import OfframpImports
from offramp.migrate.rewrite.strategies.wrapper_clients import WrapperClients

# Config goes last: it is the only step that may insert a line (in "keep" mode), so every site recorded
# before it carries its original line number.
PIPELINE = (ErrorClasses, ModuleApiToClient, ModuleClientCalls, ClientConstruction, WrapperClients,
            DictResponseAccess)
LAST = (ModuleConfigToConfigure,)
# Runs before the pipeline, on files holding Offramp's pre-0.2 `adapters` imports.
FIRST = (OfframpImports,)

STRATEGY_IDS = {
    "client-constructor": ClientConstruction,
    "keep-call": ModuleClientCalls,
    "v0-resource-call": ModuleApiToClient,
    "v0-config": ModuleConfigToConfigure,
    "v0-exception": ErrorClasses,
    "response-access": DictResponseAccess,
    "wrapper-base-url": WrapperClients,
    "offramp-import": OfframpImports,
}
# Strategies that never change code: the site is left and reported with the rule's reason.
REPORTING = module_client_calls.REPORTING

ALL = (*FIRST, *PIPELINE, *LAST)
__all__ = ["ALL", "FIRST", "DictResponseAccess", "LAST", "PIPELINE", "REPORTING", "STRATEGY_IDS"]
