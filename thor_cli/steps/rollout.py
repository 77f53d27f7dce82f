"""``rollout``: one pull request per environment moving it to the release, then wait for its owner.

For every environment of the stages this step covers (``stages``, minus ``skip_stages``; empty: all), the
step edits the environment's GitOps files (``environments/edits``: only the services the release changes
and the environment runs) on the branch ``branch`` and opens a pull request with ``title``, a body listing
the services and tags and linking the release notes, the environment's labels and its owner
(``adapters/pull_requests``: no clone, one commit, one pull request however often it runs). An
environment already at the tag is ``up-to-date`` without a pull request.

Then it waits: each poll reads each open pull request. Merged: the environment is on the release. Closed
without merging: the owner ``declined``; recorded and said in Slack, never reopened. The step succeeds
when every environment is merged, declined or up to date. At its timeout (``at_timeout``): ``fail`` (the
release is blocked until someone acts), ``succeed`` (the open pull requests stay open and are named), or
``close`` (Thor closes them; recorded as declined).

One record per environment (key: its ``[environments]`` name) whose ``data`` holds ``status`` (opened,
merged, declined, up-to-date), ``pr_number``, ``pr_url``, ``opened_at``, ``merged_at``, ``approvals``,
``tag``, ``branch`` and ``changes``: what ``thor envs`` and ``thor status`` show. The Slack thread gets one
reply per environment when its pull request is opened, merged or declined.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thor_cli.durations import PositiveDuration, format_duration
from thor_cli.errors import ConfigError, ServiceUnavailable, ThorError
from thor_cli.steps.base import RepoRecord, StepContext, StepResult, StepType

if TYPE_CHECKING:
    from thor_cli.environments.config import EnvironmentConfig
    from thor_cli.environments.services import Component

NO_ENVIRONMENTS = "skipped: no [environments] configured"
FINAL = ("merged", "declined", "up-to-date")


class RolloutOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: list[str] = Field(default_factory=list)  # empty: every stage
    skip_stages: list[str] = Field(default_factory=list)
    tag: str = "{version}"
    branch: str = "thor/{version}/{environment}"
    title: str = "Gen3 Monthly Release {version} {environment}"
    notes_url: str | None = None  # a link to the release notes for the body, e.g. a published page
    poll_every: PositiveDuration = timedelta(minutes=30)
    at_timeout: Literal["fail", "succeed", "close"] = "fail"


@dataclass
class EnvOutcome:
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    unavailable: bool = False  # GitHub down: keep waiting instead of failing the attempt
    sha: str | None = None


def _render(ctx: StepContext, template: str, environment: str) -> str:
    return ctx.release.render(template.replace("{environment}", environment))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


class RolloutStep(StepType):
    type_name = "rollout"
    summary = "open a pull request per environment moving it to the release, and follow them"
    Options = RolloutOptions
    default_timeout = timedelta(days=7)
    default_max_attempts = 3
    default_retry_after = timedelta(minutes=30)

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, RolloutOptions)
        for template in (options.tag, options.branch, options.title, options.notes_url or ""):
            render_check(template.replace("{environment}", "qa"))
        if "{environment}" not in options.branch:
            raise ConfigError("rollout: branch must contain {environment} (one branch per environment)")

    def environments(self, ctx: StepContext) -> dict[str, EnvironmentConfig]:
        options: RolloutOptions = ctx.options
        return {
            name: env
            for name, env in ctx.settings.config.environments.items()
            if (not options.stages or env.stage in options.stages) and env.stage not in options.skip_stages
        }

    def describe(self, ctx: StepContext) -> str:
        if not ctx.settings.config.environments:
            return NO_ENVIRONMENTS
        names = ", ".join(self.environments(ctx)) or "none"
        return f"open rollout pull requests to tag {ctx.release.render(ctx.options.tag)} for: {names}"

    # -- the step -----------------------------------------------------------------------------------

    def run(self, ctx: StepContext) -> StepResult:
        if not ctx.settings.config.environments:
            return StepResult.ok(NO_ENVIRONMENTS)
        envs = self.environments(ctx)
        if not envs:
            return StepResult.ok(f"skipped: no environment of the stages {self._stages(ctx)}")
        from thor_cli.environments.services import release_components

        components = release_components(ctx.settings)
        earlier = {name: record.data for name, record in ctx.repo_results().items()}
        workers = min(ctx.settings.config.repos.concurrency, len(envs))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(
                pool.map(lambda item: self._one(ctx, item[0], item[1], components, earlier.get(item[0])), envs.items())
            )
        for outcome in outcomes:
            self._record(ctx, envs[outcome.name], outcome, earlier.get(outcome.name))
        return self._summary(ctx, outcomes)

    def poll(self, ctx: StepContext) -> StepResult:
        return self.run(ctx)

    def timed_out(self, ctx: StepContext, last_result: StepResult) -> StepResult:
        options: RolloutOptions = ctx.options
        records = ctx.repo_results()
        still_open = {n: r for n, r in records.items() if r.data.get("status") == "opened"}
        names = ", ".join(sorted(still_open)) or "none"
        if options.at_timeout == "succeed":
            return StepResult.ok(f"timed out; left open: {names}")
        if options.at_timeout == "close":
            from thor_cli.adapters.pull_requests import close_pull_request

            envs = ctx.settings.config.environments
            for name, record in still_open.items():
                close_pull_request(ctx.settings, envs[name].repo, int(record.data["pr_number"]))
                data = {**record.data, "status": "declined", "closed_by": "thor"}
                ctx.record_repo(RepoRecord(name, "skipped", record.sha, "closed by Thor at the timeout", data))
                ctx.notify(f"{name}: rollout pull request closed at the step's timeout ({record.data.get('pr_url')})")
            return StepResult.ok(f"timed out; closed: {names}")
        return StepResult.fail(f"timed out waiting for: {names}")

    # -- one environment ----------------------------------------------------------------------------

    def _one(
        self,
        ctx: StepContext,
        name: str,
        env: EnvironmentConfig,
        components: list[Component],
        earlier: dict[str, Any] | None,
    ) -> EnvOutcome:
        status = (earlier or {}).get("status")
        try:
            if status in FINAL and not ctx.force:
                return EnvOutcome(name, dict(earlier or {}))
            if status == "opened" and (earlier or {}).get("pr_number") and not ctx.force:
                return self._follow(ctx, name, env, dict(earlier or {}))
            return self._open(ctx, name, env, components)
        except ServiceUnavailable as exc:
            return EnvOutcome(name, dict(earlier or {}), error=exc.message, unavailable=True)
        except ThorError as exc:
            return EnvOutcome(name, dict(earlier or {}), error=exc.message)

    def _open(self, ctx: StepContext, name: str, env: EnvironmentConfig, components: list[Component]) -> EnvOutcome:
        from thor_cli.adapters.pull_requests import PullSpec, ensure_pull_request
        from thor_cli.environments.edits import Plan, plan

        options: RolloutOptions = ctx.options
        tag = ctx.release.render(options.tag)
        seen: list[Plan] = []

        def edit(files: Any) -> dict[str, str]:
            result = plan(files, env, components, tag)
            seen.append(result)  # the first call is on the base: what the pull request changes
            return result.files

        spec = PullSpec(
            repo=env.repo,
            url=env.url or ctx.settings.config.repos.url.replace("{repo}", env.repo),
            branch=_render(ctx, options.branch, name),
            title=_render(ctx, options.title, name),
            body=lambda: self._body(ctx, name, env, tag, seen[0] if seen else Plan()),
            message=_render(ctx, options.title, name),
            base=env.base_branch,
            labels=tuple(env.labels),
        )
        # --force is a person asking again: a declined pull request is reopened, never silently.
        outcome = ensure_pull_request(ctx.settings, spec, edit, reopen=ctx.force)
        changes = [c.__dict__ for c in seen[0].changes] if seen else []
        data = {
            "status": outcome.status,
            "tag": tag,
            "branch": spec.branch,
            "pr_number": outcome.number,
            "pr_url": outcome.url,
            "opened_at": _iso(outcome.opened_at),
            "merged_at": _iso(outcome.merged_at),
            "approvals": None,
            "changes": changes,
        }
        if outcome.status == "opened":
            ctx.log(f"{name}: {outcome.detail}")
        return EnvOutcome(name, data, sha=outcome.pushed)

    def _follow(self, ctx: StepContext, name: str, env: EnvironmentConfig, data: dict[str, Any]) -> EnvOutcome:
        from thor_cli.adapters.pull_requests import pull_state

        state = pull_state(ctx.settings, env.repo, int(data["pr_number"]))
        status = {"open": "opened", "merged": "merged", "declined": "declined"}[state.status]
        data.update(status=status, approvals=state.approvals, merged_at=_iso(state.merged_at), pr_url=state.url)
        if data.get("opened_at") is None:
            data["opened_at"] = _iso(state.opened_at)
        return EnvOutcome(name, data)

    def _body(self, ctx: StepContext, name: str, env: EnvironmentConfig, tag: str, changes: Any) -> str:
        options: RolloutOptions = ctx.options
        lines = [f"Gen3 release **{ctx.release.title}** for the environment **{name}** (`{env.path}`).", ""]
        lines += ["| Service | From | To |", "|---|---|---|"]
        lines += [f"| {c.key} | {c.old or '(unset)'} | {c.new} |" for c in changes.changes]
        lines.append("")
        if options.notes_url:
            lines.append(f"Release notes: {_render(ctx, options.notes_url, name)}")
        else:
            lines.append(f"Release notes: `thor notes {ctx.release.version}`")
        if env.owner:
            lines.append(f"Owner: {env.owner}")
        lines += ["", f"Merge to move {name} to {tag}; close without merging to decline. Opened by Thor."]
        return "\n".join(lines)

    # -- recording and summing up -------------------------------------------------------------------

    def _record(
        self, ctx: StepContext, env: EnvironmentConfig, outcome: EnvOutcome, earlier: dict[str, Any] | None
    ) -> None:
        data = outcome.data
        if outcome.error:
            if not outcome.unavailable:
                ctx.record_repo(RepoRecord(outcome.name, "failed", outcome.sha, outcome.error, data))
            return
        status = data.get("status")
        before = (earlier or {}).get("status")
        if data == (earlier or {}) and before == status:
            return  # nothing new: no write
        mention = f" <@{env.slack_user}>" if env.slack_user else (f" ({env.owner})" if env.owner else "")
        announced = (earlier or {}).get("announced")
        if announced is not None:
            data = {**data, "announced": announced}
        if status != announced and status in ("opened", "merged", "declined"):
            version = data.get("tag") or ctx.release.version  # rollout-ci moves ci to the integration tag
            text = {
                "opened": f"{outcome.name}: rollout of {version} opened, {data.get('pr_url')}{mention}",
                "merged": f"{outcome.name} is on {version}: {data.get('pr_url')} merged",
                "declined": f"{outcome.name} declined {version}: {data.get('pr_url')} closed without merging{mention}",
            }[status]
            ctx.notify(text)
            data = {**data, "announced": status}
        record_status = {"merged": "succeeded", "up-to-date": "succeeded", "declined": "skipped"}.get(status, "pending")
        detail = str(status) if status != "opened" else f"waiting for {env.owner or 'its owner'}"
        detail += f" ({data['pr_url']})" if data.get("pr_url") else ""
        ctx.record_repo(RepoRecord(outcome.name, record_status, outcome.sha, detail, data))

    def _summary(self, ctx: StepContext, outcomes: list[EnvOutcome]) -> StepResult:
        counts: dict[str, list[str]] = {}
        for outcome in outcomes:
            key = "failed" if outcome.error and not outcome.unavailable else str(outcome.data.get("status") or "")
            if outcome.unavailable:
                key = "unreachable"
            counts.setdefault(key, []).append(outcome.name)
        parts = [f"{key}: {', '.join(names)}" for key, names in counts.items()]
        detail = "; ".join(parts)
        failed = [o for o in outcomes if o.error and not o.unavailable]
        if failed:
            reasons = "; ".join(f"{o.name}: {o.error}" for o in failed[:3])
            return StepResult.fail(f"{detail} ({reasons})")
        if all(o.data.get("status") in FINAL and not o.error for o in outcomes):
            return StepResult.ok(detail)
        every = format_duration(ctx.options.poll_every)
        return StepResult.wait(f"{detail}; looking again in {every}", poll_after=ctx.options.poll_every)

    def _stages(self, ctx: StepContext) -> str:
        options: RolloutOptions = ctx.options
        shown = ", ".join(options.stages) if options.stages else "all"
        return shown + (f" except {', '.join(options.skip_stages)}" if options.skip_stages else "")
