"""Many people taking the SVO slider at once: page times and that nothing is lost or stored twice.

    .venv/bin/python benchmarks/participants.py [--participants 200] [--workers 2] [--threads 16] [--ramp 0]

Serves the site with gunicorn on a free loopback port (``DATABASE_URL`` when set, PostgreSQL recommended; else
a fresh SQLite file), makes a study and a participant link (``--induce random``), then every participant at once
(or arriving uniformly over ``--ramp`` seconds), each with their own cookies: opens the link, consents, reads
the instructions, loads the sliders and submits them, and is shown the completion page. Each then submits the same answers twice more at the same moment
(a double click), which must be refused. Printed: p50/p95/max per page and over all pages, the participants,
response sets and item answers stored, and the induction arms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ITEM = re.compile(r'<input type="range" name="item_(\d+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the site at {url} did not start")


class Timings:
    def __init__(self) -> None:
        self.pages: dict[str, list[float]] = defaultdict(list)

    async def request(
        self, page: str, client: httpx.AsyncClient, method: str, url: str, **kw: object
    ) -> httpx.Response:
        started = time.perf_counter()
        response = await client.request(method, url, **kw)  # type: ignore[arg-type]
        self.pages[page].append(time.perf_counter() - started)
        return response


async def participant(
    base: str,
    path: str,
    number: int,
    ramp: float,
    timings: Timings,
    outcomes: Counter[str],
    sent: dict[str, dict[int, int]],
) -> None:
    pid = f"bench-{number:04d}"
    rng = random.Random(number)
    await asyncio.sleep(rng.uniform(0, ramp))
    async with httpx.AsyncClient(base_url=base, timeout=120.0) as client:
        link = f"{path}?PROLIFIC_PID={pid}&STUDY_ID=bench&SESSION_ID=s{number}"
        page = await timings.request("consent page", client, "GET", link)
        token = CSRF.search(page.text)
        assert token, page.text[:300]
        consent = await timings.request(
            "consent submitted",
            client,
            "POST",
            link,
            data={"consent": "yes", "csrfmiddlewaretoken": token[1]},
        )
        assert consent.status_code == 302, consent.status_code
        instructions = await timings.request("instructions", client, "GET", consent.headers["location"])
        assert instructions.status_code == 200
        items_url = re.search(r'href="([^"]+/items)" id="begin"', instructions.text)
        assert items_url
        items = await timings.request("sliders", client, "GET", items_url[1])
        numbers = [int(n) for n in ITEM.findall(items.text)]
        answers = {n: rng.randint(1, 9) for n in numbers}
        sent[pid] = answers
        data = {"csrfmiddlewaretoken": CSRF.search(items.text)[1]}  # type: ignore[index]
        clock = 0.0
        for n in numbers:
            clock += rng.uniform(2.0, 9.0)
            data[f"item_{n}"] = str(answers[n])
            data[f"time_{n}"] = f"{clock:.3f}"
        submitted = await timings.request("answers submitted", client, "POST", items_url[1], data=data)
        outcomes[f"first submission {submitted.status_code}"] += 1
        done = await timings.request("completion page", client, "GET", "/p/done")
        outcomes[
            "completion code shown" if 'id="completion-code"' in done.text else "no completion code"
        ] += 1
        again = await asyncio.gather(
            *(
                timings.request("repeated submission", client, "POST", items_url[1], data=data)
                for _ in range(2)
            )
        )
        for response in again:
            outcomes[f"repeated submission {response.status_code}"] += 1


async def warm_up(base: str, requests: int) -> None:
    """Every worker thread serves a page first (Django imports its URL configuration, and with it the views,
    on a worker's first request): the crowd then measures a running site, not its start."""
    async with httpx.AsyncClient(base_url=base, timeout=120.0) as client:
        for _ in range(2):
            await asyncio.gather(*(client.get("/health") for _ in range(requests)))


async def crowd(
    base: str, path: str, n: int, ramp: float, n_threads: int
) -> tuple[Timings, Counter[str], dict[str, dict[int, int]], float]:
    await warm_up(base, 2 * n_threads)
    timings, outcomes = Timings(), Counter[str]()
    sent: dict[str, dict[int, int]] = {}
    started = time.perf_counter()
    await asyncio.gather(*(participant(base, path, k, ramp, timings, outcomes, sent) for k in range(n)))
    return timings, outcomes, sent, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="Spread the arrivals uniformly over this many seconds (0: all at once).",
    )
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="hvae-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")  # persistent connections, as in production
    os.environ["DJANGO_SETTINGS_MODULE"] = "hvae_site.settings"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ["HVAE_PUBLIC_URL"] = base
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from annotation import participant_selectors, participant_services
    from annotation.models import Participant, SvoItemAnswer, SvoResponseSet
    from evaluation.models import Study

    study = Study.objects.create(name=f"participants benchmark {time.time():.0f}", completion_code="BENCH")
    link = participant_services.svo_link_create(study=study, induce="random", seed=1)
    path = participant_selectors.svo_link_url(link=link).removeprefix(base)

    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "hvae_site.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--keep-alive",
            "75",  # browsers keep connections open between pages; gunicorn's 2 s default closes them under load
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    try:
        wait_for(base)
        timings, outcomes, sent, elapsed = asyncio.run(
            crowd(base, path, args.participants, args.ramp, args.workers * args.threads)
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"{args.participants} participants at once on {base} (gunicorn {args.workers}x{args.threads} threads, "
        f"{django.db.connection.vendor}): {elapsed:.1f} s in all, "
        f"{sum(len(v) for v in timings.pages.values()) / elapsed:.0f} pages/s, arrivals spread over {args.ramp:g} s"
    )
    every: list[float] = []
    print(f"{'page':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for page, seconds in timings.pages.items():
        every += seconds
        ms = np.array(seconds) * 1000
        print(
            f"{page:<22}{len(ms):>6}{np.percentile(ms, 50):>10.0f}{np.percentile(ms, 95):>10.0f}{ms.max():>10.0f}"
        )
    ms = np.array(every) * 1000
    print(
        f"{'all pages':<22}{len(ms):>6}{np.percentile(ms, 50):>10.0f}{np.percentile(ms, 95):>10.0f}{ms.max():>10.0f}"
    )
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome}: {count}")

    people = Participant.objects.filter(link=link)
    sets = SvoResponseSet.objects.filter(participant__link=link)
    answers = SvoItemAnswer.objects.filter(response_set__participant__link=link)
    stored: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for pid, item, option in answers.values_list(
        "response_set__participant__participant_id", "item", "option"
    ):
        stored[pid][item] = option
    lost = [pid for pid, given in sent.items() if stored.get(pid) != given]
    arms = Counter(people.values_list("assigned_value", flat=True))
    print(
        f"stored: {people.count()} participants, {sets.count()} response sets, {answers.count()} item answers; "
        f"answers differing from those sent: {len(lost)}; arms: {dict(sorted(arms.items()))}"
    )
    ok = (
        people.count() == sets.count() == len(sent) == args.participants
        and answers.count() == 6 * args.participants
        and not lost
        and outcomes["first submission 302"] == args.participants
        and outcomes["repeated submission 409"] == 2 * args.participants
    )
    print("nothing lost or duplicated" if ok else "FAILED: something was lost or duplicated")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
