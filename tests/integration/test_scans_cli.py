"""``plume scans upload`` against the real ingest app on a loopback port (uvicorn)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plume.cli import main
from tests.integration.api.test_api_scans import ALTERED, HONEST, jpeg, world
from tests.live_ingest import free_port, serve_ingest


def test_upload_prints_the_reading_and_exits_by_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    altered = tmp_path / "altered.jpg"
    altered.write_bytes(jpeg(1, "paper_alteration"))
    honest = tmp_path / "honest.jpg"
    honest.write_bytes(jpeg(0, "honest"))
    text = tmp_path / "notes.txt"
    text.write_text("not a scan")
    with serve_ingest(tmp_path / "ingest.db") as (app, url):
        h = world(app.state.engine)
        token = h["fed"]["Authorization"].removeprefix("Bearer ")
        base = ["scans", "upload", "--centre", url, "--token", token, "--station", ALTERED.id]

        assert main([*base, str(altered)]) == 0
        out = capsys.readouterr().out
        assert f"station {ALTERED.id}: accepted, read" in out and "candidate_1" in out
        assert "F.301" in out or "W.302" in out

        assert main([*base, str(altered), "--json"]) == 0
        out = capsys.readouterr().out  # the in-process server logs to stdout too
        answer, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "scan_id"') :])
        assert answer["status"] == "duplicate" and answer["station_id"] == ALTERED.id

        assert main([*base, str(honest)]) == 1  # HONEST's sheet under ALTERED's id
        err = capsys.readouterr().err
        assert "OCR.404" in err and HONEST.id in err

        assert main([*base, str(text)]) == 1
        assert "not a PNG or JPEG" in capsys.readouterr().err
    gone = f"http://127.0.0.1:{free_port()}"
    assert (
        main(["scans", "upload", "--centre", gone, "--token", "t", "--station", "x", str(altered)])
        == 1
    )
    assert "did not answer" in capsys.readouterr().err
