"""Read template.yaml the way CloudFormation/SAM would, for the local stack and the tests.

The local stack must never keep a second, hand-written list of tables, queues or routes: everything it creates
or serves is derived from the template through this package. It understands the short intrinsic tags (`!Ref`,
`!Sub`, ...: loader.py), resolves intrinsics against deterministic local physical ids (template.py,
physical.py), merges SAM `Globals` into functions and exposes the function event sources (Api, SQS, ScheduleV2)
as small typed records (sam.py).
"""

from local.cfn.loader import ROOT, TEMPLATE_PATH, load_template
from local.cfn.physical import ACCOUNT_ID, PARTITION, REGION, STACK_NAME, URL_SUFFIX, Physical
from local.cfn.sam import ApiEvent, Authorizer, FunctionSpec, ScheduleEvent, SqsEvent, Template
from local.cfn.template import NO_VALUE, CfnTemplate

__all__ = [
    "ACCOUNT_ID",
    "NO_VALUE",
    "PARTITION",
    "REGION",
    "ROOT",
    "STACK_NAME",
    "TEMPLATE_PATH",
    "URL_SUFFIX",
    "ApiEvent",
    "Authorizer",
    "CfnTemplate",
    "FunctionSpec",
    "Physical",
    "ScheduleEvent",
    "SqsEvent",
    "Template",
    "load_template",
]
