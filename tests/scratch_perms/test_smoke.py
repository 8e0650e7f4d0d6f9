def test_smoke(api):
    assert api.get("/api/v1/me/").status_code == 200
