"""Unknown endpoints and jobs answer 404 JSON; so does everything the API does not have."""


def test_unknown_job_is_404_json(api):
    r = api.get("/v2/echo/status/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.is_json and "not found" in r.get_json()["error"]


def test_unknown_endpoint_is_404_json(api):
    r = api.post("/v2/nope/run", json={"input": 1})
    assert r.status_code == 404 and r.get_json()["error"] == "endpoint 'nope' not found"


def test_job_read_through_another_endpoint_is_404(api):
    job_id = api.run("unserved", 1)
    assert api.get(f"/v2/echo/status/{job_id}").status_code == 404


def test_unknown_route_is_404_json(api):
    r = api.get("/v2/echo/nothing-here")
    assert r.status_code == 404 and r.is_json


def test_wrong_method_is_405_json(api):
    r = api.get("/v2/echo/run")
    assert r.status_code == 405 and r.is_json
