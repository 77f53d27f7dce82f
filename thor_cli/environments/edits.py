"""The edits a rollout makes to one environment's files, for both Gen3 layouts.

- ``helm-values`` (gen3-gitops): a service's image tag is ``<service>.image.tag`` (``<service>.image.<slot>.tag``
  for one of several images, such as ``etl.image.tube.tag``) in ``<path>/values/<service>.yaml`` when that file
  exists, else in ``<path>/values/values.yaml``. A service the environment does not list, or lists with
  ``enabled: false``, is left alone. The YAML is edited round-trip (ruamel.yaml): key order, comments, quoting
  and indentation stay as they were; only the tag scalars change.
- ``manifest-json`` (cdis-manifest): ``<path>/manifest.json``'s ``versions`` maps a key to an image reference
  (``"fence": "quay.io/cdis/fence:2021.09"``). Only the tag after the last ``:`` changes, in place in the
  text, so the file's layout (indentation, key order, spacing) is untouched.

``plan(snapshot, env, components, tag)`` returns the new file texts and the list of changes (for the pull
request's body); it changes nothing itself. Services in ``skip_services`` are never touched.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from thor_cli.environments.config import EnvironmentConfig
from thor_cli.environments.services import Component
from thor_cli.errors import StepError


@dataclass(frozen=True)
class Change:
    service: str
    key: str  # "fence", "etl.tube", or the manifest key
    path: str
    old: str | None
    new: str


@dataclass
class Plan:
    files: dict[str, str] = field(default_factory=dict)  # path -> new text, only files that change
    changes: list[Change] = field(default_factory=list)

    def summary(self) -> str:
        return ", ".join(f"{c.key} {c.old or '(unset)'} → {c.new}" for c in self.changes)


def plan(files: Any, env: EnvironmentConfig, components: Iterable[Component], tag: str) -> Plan:
    """``files`` has ``paths(under)`` and ``read(path)`` (an ``adapters.git_files.Snapshot``)."""
    wanted = [c for c in components if c.service not in env.skip_services]
    if env.format == "manifest-json":
        return _plan_manifest(files, env, wanted, tag)
    return _plan_helm(files, env, wanted, tag)


# -- helm-values ------------------------------------------------------------------------------------------


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    return yaml


def _load(path: str, text: str) -> tuple[Any, Any]:
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
        yaml = _yaml()
        yaml.indent(mapping=indent or 2, sequence=(indent or 2) + (block_seq_indent or 0), offset=block_seq_indent or 0)
        return yaml, yaml.load(text)
    except YAMLError as exc:
        raise StepError(f"{path}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None


def _plan_helm(files: Any, env: EnvironmentConfig, components: list[Component], tag: str) -> Plan:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    folder = f"{env.path}/values"
    present = set(files.paths(folder))
    docs: dict[str, tuple[Any, Any]] = {}
    result = Plan()
    changed: set[str] = set()
    for component in components:
        own = f"{folder}/{component.service}.yaml"
        path = own if own in present else f"{folder}/values.yaml"
        if path not in docs:
            text = files.read(path)
            if text is None:
                continue  # this environment has no values file: nothing it runs is described here
            docs[path] = _load(path, text)
        _, doc = docs[path]
        section = doc.get(component.service) if isinstance(doc, dict) else None
        if not isinstance(section, dict) or section.get("enabled") is False:
            continue  # not run here, or switched off: left alone
        node = section
        for key in ("image", *((component.slot,) if component.slot else ())):
            child = node.get(key)
            if not isinstance(child, dict):
                child = CommentedMap()
                node[key] = child
            node = child
        old = node.get("tag")
        if old is not None and str(old) == tag:
            # Also an unquoted 2021.09 (a YAML float that prints the same); 2021.10 prints 2021.1: rewritten.
            continue
        if isinstance(old, DoubleQuotedScalarString):
            new: Any = DoubleQuotedScalarString(tag)
        elif isinstance(old, SingleQuotedScalarString):
            new = SingleQuotedScalarString(tag)
        else:
            new = tag  # ruamel quotes it if it would read as a number
        node["tag"] = new
        key = f"{component.service}.{component.slot}" if component.slot else component.service
        result.changes.append(Change(component.service, key, path, None if old is None else str(old), tag))
        changed.add(path)
    for path in sorted(changed):
        yaml, doc = docs[path]
        out = io.StringIO()
        yaml.dump(doc, out)
        result.files[path] = out.getvalue()
    return result


# -- manifest-json ----------------------------------------------------------------------------------------

_VERSIONS = re.compile(r'"versions"\s*:\s*')


def _plan_manifest(files: Any, env: EnvironmentConfig, components: list[Component], tag: str) -> Plan:
    path = f"{env.path}/manifest.json"
    text = files.read(path)
    result = Plan()
    if text is None:
        raise StepError(f"{path} does not exist in {env.repo}")
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise StepError(f"{path}: not valid JSON ({exc})") from None
    versions = manifest.get("versions") if isinstance(manifest, dict) else None
    if not isinstance(versions, dict):
        raise StepError(f'{path} has no "versions" object')
    start, end = _versions_span(text)
    block = text[start:end]
    for component in components:
        key = component.manifest_key
        old = versions.get(key)
        if not isinstance(old, str):
            continue  # not run here
        image, sep, current = _split_ref(old)
        if sep and current == tag:
            continue
        new = f"{image}:{tag}"
        pattern = re.compile(r'("' + re.escape(key) + r'"\s*:\s*)"' + re.escape(old) + '"')
        block, count = pattern.subn(lambda m, new=new: f'{m.group(1)}"{new}"', block, count=1)
        if count:
            result.changes.append(Change(component.service, key, path, current or None, tag))
    if result.changes:
        result.files[path] = text[:start] + block + text[end:]
    return result


def _versions_span(text: str) -> tuple[int, int]:
    """Where the top-level ``versions`` object is in the text (its braces included)."""
    decoder = json.JSONDecoder()
    for match in _VERSIONS.finditer(text):
        try:
            value, end = decoder.raw_decode(text, match.end())
        except ValueError:
            continue
        if isinstance(value, dict):
            return match.end(), end
    raise StepError('cannot find the "versions" object in the manifest')


def _split_ref(ref: str) -> tuple[str, str, str]:
    """(image, ":", tag) of ``quay.io/cdis/fence:2021.09``; a ``host:port`` is not a tag."""
    image, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, "", ""
    return image, sep, tag
