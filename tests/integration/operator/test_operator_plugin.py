"""``kubectl hsr`` drives a rollout through every manual intent on a real control plane:
pause, resume, promote, promote --full, abort with a reason, retry; ``get --watch`` keeps
refreshing the live view; a missing rollout is a clear error; kubectl's flags work after
the sub-command and ``-A`` lists every namespace; the real kubectl completes sub-commands,
flags and rollout names through ``kubectl_complete-hsr``. Every command runs as a real
subprocess, the way a user types it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from operator_harness import SLOW, rollout_manifest, run_plugin, start_plugin

from tests.plugins.waiting import eventually


async def test_every_intent_through_the_plugin(env, prometheus):
    env.cluster.apply(rollout_manifest("cli", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("cli"):
        await env.wait_phase("cli", "Canary")

        assert "pause requested" in await run_plugin(env, "pause", "cli", "--reason", "lunch")
        st = await env.wait_phase("cli", "Paused", started=False)
        assert st["pausedFrom"] == "Canary"
        await run_plugin(env, "resume", "cli")
        await env.wait_phase("cli", "Canary")

        await run_plugin(env, "promote", "cli")
        await env.wait_phase("cli", "Parallel")

        await run_plugin(env, "abort", "cli", "--reason", "bad fills")
        st = await env.wait_phase("cli", "RolledBack", started=False)
        assert st["lastFailure"]["source"] == "manual"
        assert "manual abort: bad fills" in st["lastFailure"]["message"]
        detail = await run_plugin(env, "get", "cli")
        assert "Phase:     RolledBack" in detail and "bad fills" in detail

        await run_plugin(env, "retry", "cli")
        st = await env.wait_phase("cli", "Canary")
        assert st.get("lastFailure") is None

        # promote --full skips every step and the bake: the walk completes
        await run_plugin(env, "promote", "cli", "--full")

        async def complete():
            st = await env.status("cli")
            return st if (st.get("stableRevision") or {}).get("number") == 1 else None
        st = await eventually(complete, what="revision 1 stable", within=60)
        assert st["phase"] == "Production" and st["hybridPercent"] == 100
        # nothing walks any more: an abort is refused, in an Event
        await run_plugin(env, "abort", "cli", "--reason", "too late")

        async def refused():
            return any(e.reason == "IntentIgnored" and "no revision is walking" in e.message
                       for e in await env.events("cli"))
        await eventually(refused, what="the late abort refused", within=60)

    reasons = [h["reason"] for h in st["history"]]
    for expected in ("manual pause: lunch", "manual resume", "manual promote-full",
                     "manual abort: bad fills", "manual retry"):
        assert any(expected in r for r in reasons), (expected, reasons)
    history = await run_plugin(env, "history", "cli")
    assert history.count("Canary") >= 3 and "RolledBack" in history
    assert "revision 1 (test)" in history and "stable since" in history


async def test_get_watch_refreshes_until_interrupted(env, prometheus):
    env.cluster.apply(rollout_manifest("live", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("live"):
        await env.wait_phase("live", "Canary")
        proc = await start_plugin(env, "get", "--watch")
        assert proc.stdout is not None
        tables = 0
        while tables < 3:  # bounded: three refreshes, each within the read deadline
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "kubectl hsr get --watch ended by itself"
            if line.startswith("NAME"):
                tables += 1
            elif line.startswith("live"):
                assert "Canary" in line, line
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 130  # Ctrl-C ends the watch quietly


async def test_kubectl_flags_after_the_sub_command_and_all_namespaces(env, prometheus):
    async def plugin(*args: str) -> str:
        # No harness -n and no KUBECONFIG in the environment: only the flags typed here.
        environ = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hybridstream_operator.plugin", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environ)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, (proc.returncode, out.decode(), err.decode())
        return out.decode()

    kubeconfig = str(env.cluster.kubeconfig)
    env.cluster.apply(rollout_manifest("flags", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("flags"):
        await env.wait_phase("flags", "Canary")
        detail = await plugin("get", "flags", "-n", env.namespace, "--kubeconfig", kubeconfig)
        assert f"Name:      {env.namespace}/flags" in detail
        table = await plugin("--kubeconfig", kubeconfig, "get", "--all-namespaces")
        assert table.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
        assert any(line.split()[:3] == [env.namespace, "flags", "Canary"]
                   for line in table.splitlines()), table
        assert "pause requested" in await plugin("pause", "flags", "--kubeconfig", kubeconfig,
                                                 "--namespace", env.namespace)
        await env.wait_phase("flags", "Paused", started=False)


async def test_missing_rollout_is_a_clear_error(env):
    err = await run_plugin(env, "get", "nope", expect_rc=1)
    assert "error: 404" in err
    err = await run_plugin(env, "promote", "nope", expect_rc=1)
    assert "error: 404" in err


def test_kubectl_completes_sub_commands_flags_and_rollout_names(env, prometheus):
    """kubectl (1.26+) asks ``kubectl_complete-hsr``, found on PATH beside ``kubectl-hsr``,
    for the words after ``kubectl hsr``; rollout names come from the namespace typed."""
    env.cluster.apply(rollout_manifest("completes", prometheus.url, **SLOW),
                      namespace=env.namespace)
    scripts = Path(sys.executable).parent
    assert (scripts / "kubectl_complete-hsr").exists()  # installed with the package
    environ = {**os.environ, **env.cluster.env,
               "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"}

    def complete(*words: str) -> list[str]:
        done = subprocess.run([str(env.cluster.kubectl_bin), "__complete", "hsr", *words],
                              capture_output=True, text=True, env=environ, timeout=60,
                              check=True)
        return done.stdout.splitlines()

    verbs = complete("")
    assert {"get", "promote", "abort", "undo", "dashboard"} <= set(verbs), verbs
    assert verbs[-1] == ":4"  # no file names
    assert "--full" in complete("promote", "--f")
    assert complete("abort", "-n", env.namespace, "comp")[:-1] == ["completes"]
    assert "completes" in complete("get", "--namespace", env.namespace, "")
    assert complete("abort", "-n", env.namespace, "completes", "") == [":4"]
