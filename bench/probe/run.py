"""Probe benchmark: N URLs (1,000) on the local test farm with injected server latency,
measured here (127.0.0.2, "Cuba") and at a control helper (127.0.0.3, "Switzerland") in
separate processes, beside the bound concurrency / latency and OONI's sequential pace.

    .venv/bin/python bench/probe/run.py [--urls 1000] [--concurrency 16] [--latency 0.05:0.2]
        [--timeout 2] [--sample 3] [--json FILE]

1. starts the farm (tests/observatory/access/probe_farm.py) as a process: HTTP/HTTPS servers that
   answer by the client's source address after sleeping a uniform random MIN..MAX seconds per
   response, the lying DNS server, the reset/stall/drop/interception servers;
2. starts the control helper (`python -m sentinelle.observatory.access.cli helper`) bound to
   127.0.0.3 as another process;
3. writes a list of N URLs drawn from the farm's scenarios (fixed seed), each on its own host
   name `site-NNNN-<kind>.bench.test` shared by ~3 URLs (so the per-host limit takes part);
4. runs --sample URLs of every scenario at concurrency 1 and weights each scenario's seconds
   per URL by its share of the list (our sequential pace, the unloaded latency per URL), then
   the whole list at --concurrency, in-process (runner.run);
5. prints URLs per minute, the bound concurrency x 60 / (seconds per URL), OONI's pace
   (~12 URLs per minute, issue 6) and the verdict accuracy: the share of URLs whose verdict
   (and provider) is the scenario's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PYTHON = ROOT / ".venv" / "bin" / "python"
FARM = ROOT / "tests" / "observatory" / "access" / "probe_farm.py"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)

from tests.observatory.access.probe_farm import CONTROL_IP, PROBE_IP, SCENARIOS, TOKEN  # noqa: E402

from sentinelle.observatory.access import runner  # noqa: E402

OONI_URLS_PER_MINUTE = 12          # issue 6: Web Connectivity, one URL at a time
# Share of each scenario in the list: mostly reachable sites, as on a real test list.
WEIGHTS = {
    "accessible-https": 30, "redirect-chain": 5, "cloudflare-1009-https": 10,
    "cloudfront-https": 5, "server-403-https": 7, "http-451": 4, "dns-lie": 5,
    "dns-blockpage": 4, "dns-nxdomain": 4, "http-diff": 5, "tls-reset": 5, "tls-mitm": 4,
    "tcp-drop": 3, "http-stall": 3, "endless-body": 2,
}
KIND = {"accessible-https": "www", "redirect-chain": "redir", "cloudflare-1009-https": "cf",
        "cloudfront-https": "cloudfront", "server-403-https": "denied", "http-451": "legal",
        "dns-lie": "lied", "dns-blockpage": "blockpage", "dns-nxdomain": "gone",
        "http-diff": "diff", "tls-reset": "reset", "tls-mitm": "mitm", "tcp-drop": "dropped",
        "http-stall": "stall", "endless-body": "endless"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.stat().st_size:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.1)


def wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"control helper did not listen on {port}")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a child process (from /proc), or of this one."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_list(state: dict, count: int, seed: int = 6) -> tuple[list[str], dict[str, tuple]]:
    rng = random.Random(seed)
    names = list(WEIGHTS)
    weights = [WEIGHTS[n] for n in names]
    scenarios = {s.name: s for s in SCENARIOS}
    urls, expected = [], {}
    hosts = max(1, count // 3)
    for i in range(count):
        name = rng.choices(names, weights)[0]
        scenario = scenarios[name]
        url = scenario.template.format(**state["ports"])
        host = f"site-{i % hosts:04d}-{KIND[name]}.bench.test"
        url = url.replace(url.split("/")[2].split(":")[0], host, 1)
        url += ("&" if "?" in url else "?") + f"n={i}"
        urls.append(url)
        expected[url] = (scenario.expected, scenario.provider, name)
    return urls, expected


def run_probe(state: dict, control_url: str, urls: list[str], work: Path, tag: str,
              concurrency: int, timeout: float) -> tuple[float, list[dict]]:
    listing = work / f"{tag}.csv"
    listing.write_text("url,category_code,notes\n" + "".join(f"{u},NEWS,\n" for u in urls))
    output = work / f"{tag}.jsonl"
    options = runner.RunOptions(
        list_path=listing, control_url=control_url, control_token=TOKEN, output=output,
        bind=PROBE_IP, concurrency=concurrency, timeout=timeout, resolver=state["resolver"],
        system_resolver=False, ca_file=Path(state["ca_file"]), geoip_db=Path(state["mmdb"]),
        asn_db=Path(state["mmdb"]), self_cc="CU", self_asn=27725, max_body=256 * 1024,
        progress=sys.stderr.isatty(), command_line=["bench"])
    started = time.perf_counter()
    result = runner.run(options)
    elapsed = time.perf_counter() - started
    assert result.count == len(urls), (result.count, len(urls))
    lines = [json.loads(x) for x in output.read_text().splitlines()]
    return elapsed, lines


def accuracy(lines: list[dict], expected: dict) -> tuple[float, Counter]:
    wrong: Counter = Counter()
    for line in lines:
        verdict, provider, name = expected[line["input"]]
        if (line["verdict"], line["provider"]) != (verdict, provider):
            wrong[f"{name}: expected {verdict}, got {line['verdict']}"] += 1
    return 1 - sum(wrong.values()) / len(lines), wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", default="0.05:0.2", help="MIN:MAX seconds per response")
    parser.add_argument("--timeout", type=float, default=2.0, help="probe phase timeout (s)")
    parser.add_argument("--sample", type=int, default=3,
                        help="URLs of each scenario run one at a time (sequential pace)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="probe-bench-"))
    state_file = work / "state.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    farm = subprocess.Popen([str(PYTHON), str(FARM), "--dir",
                             str(work / "farm"), "--state", str(state_file), "--latency",
                             args.latency], env=env, start_new_session=True)
    helper = None
    try:
        wait_for(state_file)
        state = json.loads(state_file.read_text())
        port = free_port()
        helper = subprocess.Popen(
            [str(PYTHON), "-m", "sentinelle.observatory.access.cli", "helper", "--listen",
             f"127.0.0.1:{port}", "--bind", CONTROL_IP, "--token", TOKEN, "--allow-private",
             "--rate", "1000000/min", "--timeout", str(args.timeout), "--ca-file",
             state["ca_file"], "--resolver", state["resolver"], "--self-cc", "CH",
             "--self-asn", "3303", "--max-body", str(256 * 1024), "--max-concurrent", "256"],
            env=env, start_new_session=True, stderr=subprocess.DEVNULL)
        wait_port(port)
        control_url = f"http://127.0.0.1:{port}"
        urls, expected = make_list(state, args.urls)

        # Sequential pace: every scenario measured alone, one URL at a time (--sample URLs of
        # each), weighted by its share of the list; this is the unloaded latency per URL.
        per_scenario: dict[str, float] = {}
        seq_lines: list[dict] = []
        for name in WEIGHTS:
            picked = [u for u in urls if expected[u][2] == name][: args.sample]
            if not picked:
                continue
            took, lines_ = run_probe(state, control_url, picked, work, f"seq-{name}", 1,
                                     args.timeout)
            per_scenario[name] = took / len(picked)
            seq_lines += lines_
        share_of = Counter(expected[u][2] for u in urls)
        per_url = sum(per_scenario[n] * share_of[n] for n in per_scenario) / len(urls)
        sample = seq_lines
        before = [cpu_seconds(), cpu_seconds(helper.pid), cpu_seconds(farm.pid)]
        elapsed, lines = run_probe(state, control_url, urls, work, "concurrent",
                                   args.concurrency, args.timeout)
        cpu = [round(b - a, 1) for a, b in zip(before, [cpu_seconds(), cpu_seconds(helper.pid),
                                                         cpu_seconds(farm.pid)], strict=True)]
        share, wrong = accuracy(lines, expected)
        seq_share, _ = accuracy(seq_lines, expected)
        low, high = (float(x) for x in args.latency.split(":"))
        figures = {
            "urls": len(urls), "concurrency": args.concurrency, "latency_s": [low, high],
            "timeout_s": args.timeout, "elapsed_s": round(elapsed, 2),
            "urls_per_minute": round(len(urls) / elapsed * 60, 1),
            "sequential_s_per_url": round(per_url, 3),
            "sequential_s_by_scenario": {k: round(v, 3) for k, v in per_scenario.items()},
            "sequential_urls_per_minute": round(60 / per_url, 1),
            "bound_urls_per_minute": round(args.concurrency * 60 / per_url, 1),
            "ooni_urls_per_minute": OONI_URLS_PER_MINUTE,
            "verdict_accuracy": round(share, 4),
            "sequential_sample_accuracy": round(seq_share, 4),
            "cpu_s": {"probe": cpu[0], "helper": cpu[1], "farm": cpu[2]},
            "cpus": os.cpu_count(),
            "verdicts": Counter(x["verdict"] for x in lines),
            "wrong": dict(wrong),
        }
        print(f"{len(urls)} URLs, concurrency {args.concurrency}, injected latency "
              f"{low * 1000:.0f}-{high * 1000:.0f} ms per response, phase timeout "
              f"{args.timeout:g} s")
        print(f"  measured            {figures['urls_per_minute']:>9.1f} URLs/min "
              f"({elapsed:.1f} s)")
        print(f"  bound c/latency     {figures['bound_urls_per_minute']:>9.1f} URLs/min "
              f"({args.concurrency} x 60 / {per_url:.3f} s per URL, sequential, weighted "
              f"over {len(sample)} URLs)")
        print(f"  sequential (ours)   {figures['sequential_urls_per_minute']:>9.1f} URLs/min")
        print(f"  OONI sequential     {OONI_URLS_PER_MINUTE:>9.1f} URLs/min (issue 6)")
        print(f"  speed-up vs OONI    {figures['urls_per_minute'] / OONI_URLS_PER_MINUTE:>9.1f}x")
        print(f"  CPU during the run  probe {cpu[0]:.1f} s, helper {cpu[1]:.1f} s, farm "
              f"{cpu[2]:.1f} s over {elapsed:.1f} s wall on {os.cpu_count()} CPUs")
        print(f"  verdict accuracy    {share * 100:>9.1f} % "
              f"({len(urls) - sum(wrong.values())}/{len(urls)})")
        for text, n in wrong.most_common():
            print(f"    wrong: {text} x{n}")
        print("  verdicts: " + ", ".join(f"{v} {n}" for v, n in
                                           figures["verdicts"].most_common()))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
        return 0 if not wrong else 1
    finally:
        stop(helper, farm)
        shutil.rmtree(work, ignore_errors=True)


def stop(*processes: subprocess.Popen | None) -> None:
    """End the process groups this bench started (TERM, then KILL after 10 s)."""
    for process in processes:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
