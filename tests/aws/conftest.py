"""Fixtures for the AWS backend tests: one moto server per session, fresh infrastructure per test.

Each test builds its own VPC-less-looking set of names (a random suffix) on the shared
server, so tests cannot see each other's resources and no reset between them is needed.
The services run with MOTO_ECS_SERVICE_RUNNING=2: moto decides a service's rolloutState
once, when the service is created, as COMPLETED if that many tasks cover its desired count
and IN_PROGRESS (for ever) otherwise. Desired count 2 therefore means "healthy" and 3
means "never finishes rolling out".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from actions.deploy.aws import AwsBackend, AwsTargetConfig
from commands.targets import COLOURS, Colour, Target
from tests.servers.moto_server import (
    DEFAULT_REGION,
    MotoServer,
    credentials_env,
    running_moto_server,
)

RUNNING_TASKS = 2
IMAGE = "registry.example.com:5000/team/api"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf"


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with running_moto_server(env={"MOTO_ECS_SERVICE_RUNNING": str(RUNNING_TASKS)}) as server:
        yield server


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake credentials for boto3's default chain, and nothing from the developer's ~/.aws."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in credentials_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    # No retries with backoff: keeps failure tests fast. Retrying is botocore's job.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@dataclass
class SetupClients:
    ec2: Any
    elbv2: Any
    ecs: Any


@pytest.fixture(scope="session")
def clients(moto: MotoServer) -> SetupClients:
    return SetupClients(moto.client("ec2"), moto.client("elbv2"), moto.client("ecs"))


@pytest.fixture(scope="session")
def network(clients: SetupClients) -> dict[str, Any]:
    return build_network(clients)


def build_network(clients: SetupClients) -> dict[str, Any]:
    """A VPC with two subnets in two zones, which an ALB requires."""
    vpc = clients.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        clients.ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for cidr, zone in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"))
    ]
    group = clients.ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)
    return {"vpc": vpc, "subnets": subnets, "security_group": group["GroupId"]}


@dataclass
class Infra:
    target: Target
    config: AwsTargetConfig
    family: str


def _container_definitions(version: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "app",
            "image": f"{IMAGE}:{version}",
            "memory": 512,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "LOG_LEVEL", "value": "info"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": SECRET_ARN}],
        },
        {
            "name": "log-router",
            "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
            "memory": 64,
            "essential": False,
        },
    ]


def build_infra(
    clients: SetupClients, network: dict[str, Any], *, green_desired: int = RUNNING_TASKS
) -> Infra:
    """ALB + listener (blue 100 / green 0), two target groups, a cluster, two services.

    Blue runs v1.0.0 and green the previous v0.9.0, as after a completed shift.
    """
    suffix = uuid.uuid4().hex[:8]
    lb = clients.elbv2.create_load_balancer(
        Name=f"api-{suffix}",
        Subnets=network["subnets"],
        SecurityGroups=[network["security_group"]],
        Type="application",
    )["LoadBalancers"][0]["LoadBalancerArn"]
    groups: dict[Colour, str] = {
        colour: clients.elbv2.create_target_group(
            Name=f"api-{colour}-{suffix}",
            Protocol="HTTP",
            Port=8080,
            VpcId=network["vpc"],
            TargetType="ip",
        )["TargetGroups"][0]["TargetGroupArn"]
        for colour in COLOURS
    }
    listener = clients.elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups["blue"], "Weight": 100},
                        {"TargetGroupArn": groups["green"], "Weight": 0},
                    ],
                    "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 300},
                },
            }
        ],
    )["Listeners"][0]["ListenerArn"]

    cluster = f"prod-{suffix}"
    clients.ecs.create_cluster(clusterName=cluster)
    family = f"api-{suffix}"
    task_definitions = {}
    for colour, version in (("green", "v0.9.0"), ("blue", "v1.0.0")):
        task_definitions[colour] = clients.ecs.register_task_definition(
            family=family,
            containerDefinitions=_container_definitions(version),
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="1024",
            executionRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            tags=[{"key": "team", "value": "payments"}],
        )["taskDefinition"]["taskDefinitionArn"]
    services: dict[Colour, str] = {colour: f"api-{colour}" for colour in COLOURS}
    for colour, name in services.items():
        clients.ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=task_definitions[colour],
            desiredCount=green_desired if colour == "green" else RUNNING_TASKS,
            launchType="FARGATE",
            loadBalancers=[
                {"targetGroupArn": groups[colour], "containerName": "app", "containerPort": 8080}
            ],
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": network["subnets"],
                    "securityGroups": [network["security_group"]],
                }
            },
        )
    config = AwsTargetConfig(
        region=DEFAULT_REGION,
        cluster=cluster,
        services=services,
        container="app",
        image=IMAGE,
        listener_arn=listener,
        target_groups=groups,
        rollout_timeout=5,
        poll_interval=0.05,
    )
    return Infra(Target("api", f"production-{suffix}"), config, family)


@pytest.fixture
def make_infra(clients: SetupClients, network: dict[str, Any]) -> Callable[..., Infra]:
    def make(**kwargs: Any) -> Infra:
        return build_infra(clients, network, **kwargs)

    return make


@pytest.fixture
def infra(make_infra: Callable[..., Infra]) -> Infra:
    return make_infra()


@pytest.fixture
def backend(moto: MotoServer, infra: Infra) -> AwsBackend:
    return AwsBackend({infra.target: infra.config}, endpoint_url=moto.endpoint_url)
