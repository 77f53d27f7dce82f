"""The edits of a rollout on both layouts: only the tags change, everything else stays byte for byte."""

from __future__ import annotations

import json

from thor_cli.environments.config import EnvironmentConfig, ServicesConfig
from thor_cli.environments.edits import plan
from thor_cli.environments.services import component_for

VALUES = """\
# QA commons: https://qa.planx-pla.net
global:
  hostname: qa.planx-pla.net   # the portal's address
  dictionaryUrl: https://s3.amazonaws.com/dictionary-artifacts/datadictionary/develop/schema.json

fence:
  enabled: true
  image:
    repository: quay.io/cdis/fence
    tag: "2021.08"   # pinned by the last release
  replicas: 2

indexd:
  image:
    tag: '2021.08'

peregrine:
  enabled: false
  image:
    tag: "2021.06"

etl:
  image:
    tube:
      tag: 2021.08
    spark:
      tag: "2021.08"
  esEndpoint: gen3-elasticsearch

portal:
  resources:
    limits: [cpu, memory]
"""
FENCE_FILE = """\
fence:
  image:
    tag: 2021.07
  USER_YAML: |
    cloud_providers: {}
"""
MANIFEST = """{
  "notes": ["This is a manifest"],
  "versions": {
    "fence":   "quay.io/cdis/fence:2021.08",
    "indexd": "quay.io/cdis/indexd:2021.08",
    "portal": "quay.io/cdis/data-portal-prod:2021.08",
    "tube": "quay.io/cdis/tube:2021.08",
    "spark": "quay.io/cdis/gen3-spark:2021.09",
    "sheepdog": "quay.io/cdis/sheepdog:2021.08"
  },
  "global": {"fence": "not an image", "hostname": "qa.planx-pla.net"}
}
"""
REPOS = [
    "uc-cdis/fence",
    "uc-cdis/indexd",
    "uc-cdis/peregrine",
    "uc-cdis/tube",
    "uc-cdis/gen3-spark",
    "uc-cdis/data-portal",
    "uc-cdis/sheepdog",
]
COMPONENTS = [c for c in (component_for(r, ServicesConfig()) for r in REPOS) if c is not None]


class Files:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def paths(self, under: str = "") -> list[str]:
        return [p for p in self.files if p.startswith(under.rstrip("/") + "/")]

    def read(self, path: str) -> str | None:
        return self.files.get(path)


def env(**kw: object) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate({"repo": "uc-cdis/gen3-gitops", "path": "qa", "stage": "qa", **kw})


def test_helm_values_change_only_the_tags_of_services_the_environment_runs() -> None:
    files = Files({"qa/values/values.yaml": VALUES})
    result = plan(files, env(skip_services=["indexd"]), COMPONENTS, "2021.09")
    # indexd skipped, peregrine disabled, sheepdog not run here; portal runs without a pinned tag: it gets one
    assert [c.key for c in result.changes] == ["fence", "etl.tube", "etl.spark", "portal"]
    expected = (
        VALUES.replace('tag: "2021.08"   # pinned', 'tag: "2021.09"   # pinned')
        .replace("tag: 2021.08\n    spark", "tag: '2021.09'\n    spark")
        .replace('spark:\n      tag: "2021.08"', 'spark:\n      tag: "2021.09"')
        .replace("limits: [cpu, memory]\n", "limits: [cpu, memory]\n  image:\n    tag: '2021.09'\n")
    )
    assert result.files == {"qa/values/values.yaml": expected}


def test_a_service_file_of_its_own_wins_over_values_yaml() -> None:
    files = Files({"qa/values/values.yaml": VALUES, "qa/values/fence.yaml": FENCE_FILE})
    result = plan(files, env(), COMPONENTS[:1], "2021.09")
    assert result.files == {"qa/values/fence.yaml": FENCE_FILE.replace("tag: 2021.07", "tag: '2021.09'")}
    assert (result.changes[0].old, result.changes[0].new) == ("2021.07", "2021.09")


def test_nothing_to_do_when_already_at_the_tag() -> None:
    text = VALUES.replace("2021.08", "2021.09").replace(
        "limits: [cpu, memory]", "limits: []\n  image: {tag: '2021.09'}"
    )
    assert plan(Files({"qa/values/values.yaml": text}), env(), COMPONENTS, "2021.09").files == {}
    october = Files({"qa/values/values.yaml": "fence:\n  image:\n    tag: 2021.10\n"})  # a float: Helm says 2021.1
    assert plan(october, env(), COMPONENTS, "2021.10").files == {
        "qa/values/values.yaml": "fence:\n  image:\n    tag: '2021.10'\n"
    }


def test_manifest_json_keeps_its_layout() -> None:
    files = Files({"qa/manifest.json": MANIFEST})
    result = plan(files, env(format="manifest-json"), COMPONENTS, "2021.09")
    assert [c.key for c in result.changes] == ["fence", "indexd", "tube", "portal", "sheepdog"]
    text = result.files["qa/manifest.json"]
    assert text == MANIFEST.replace(":2021.08", ":2021.09")
    assert json.loads(text)["global"]["fence"] == "not an image"
    assert '"fence":   "quay.io/cdis/fence:2021.09"' in text  # even odd spacing stays
