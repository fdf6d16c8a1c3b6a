"""Server-rendered pages: login flow, languages, redirects, static assets."""

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Account


def test_home_in_english_and_korean(client: TestClient) -> None:
    english = client.get("/", headers={"accept-language": "en-US,en;q=0.9"})
    assert english.status_code == 200 and "Vision tools" in english.text and 'lang="en"' in english.text
    korean = client.get("/", headers={"accept-language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert "비전 도구" in korean.text and 'lang="ko"' in korean.text


def test_language_switch_cookie_wins(client: TestClient) -> None:
    response = client.get("/lang/ko", headers={"accept-language": "en"}, follow_redirects=False)
    assert response.status_code == 303
    assert "비전 도구" in client.get("/", headers={"accept-language": "en"}).text


def test_login_page_flow(client: TestClient, alice: Account) -> None:
    assert client.get("/vision", follow_redirects=False).headers["location"].startswith("/login?next=/vision")
    bad = client.post("/login", data={"username": "alice", "password": "nope", "next": "/vision"})
    assert bad.status_code == 401 and "Wrong username or password" in bad.text
    ok = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/vision"},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/vision"
    page = client.get("/vision")
    assert page.status_code == 200 and 'id="pad"' in page.text
    assert client.get("/vision?tab=faces").text.count('id="face-form"') == 1
    assert client.get("/jobs").status_code == 200 and client.get("/account").status_code == 200


def test_open_redirect_is_refused(client: TestClient, alice: Account) -> None:
    response = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                           "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_static_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/").text
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    for path in ("/static/vendor/htmx/htmx.min.js", "/static/vendor/pretendard/pretendardvariable.css",
                 "/static/boda.js", "/static/vision/vision.js", "/static/boda.css"):
        assert client.get(path).status_code == 200, path


def test_html_errors_for_browsers(client: TestClient) -> None:
    response = client.get("/api/v1/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    page = client.get("/nope", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text


def test_about_shows_attributions(client: TestClient) -> None:
    text = client.get("/about").text
    assert "Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0" in text


def test_api_docs_load_nothing_from_outside(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "https://" not in page.text
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/redoc").status_code == 404


def test_openapi_and_metrics(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/vision/digits" in spec["paths"] and "/api/v1/jobs/{job_id}/events" in spec["paths"]
    assert client.get("/metrics").status_code == 404  # the test client is not a loopback address


def test_errors_speak_the_callers_language(client: TestClient, alice: Account) -> None:
    files = {"file": ("notes.txt", b"not a picture", "image/png")}
    english = alice.post("/api/v1/vision/digits", files=files, headers={"accept-language": "en"}).json()
    korean = alice.post("/api/v1/vision/digits", files=files, headers={"accept-language": "ko-KR"}).json()
    assert english["error"]["code"] == korean["error"]["code"] == "unsupported_media_type"
    assert "Not an image we accept" in english["error"]["message"]
    assert korean["error"]["message"].startswith("받을 수 없는 파일입니다")
    refused = client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong"},
                          headers={"accept-language": "ko"})
    assert refused.json()["error"]["message"] == "사용자 이름이나 비밀번호가 틀렸습니다."


def test_login_csrf_and_forced_logout_are_refused(client: TestClient, alice: Account) -> None:
    form = {"username": "alice", "password": PASSWORD}
    cross = client.post("/login", data=form, headers={"sec-fetch-site": "cross-site"}, follow_redirects=False)
    assert cross.status_code == 403 and "set-cookie" not in cross.headers
    foreign = client.post("/login", data=form, headers={"origin": "https://evil.example"}, follow_redirects=False)
    assert foreign.status_code == 403
    ok = client.post("/login", data=form, headers={"origin": "http://testserver"}, follow_redirects=False)
    assert ok.status_code == 303
    again = client.post("/login", data=form, follow_redirects=False)  # logged in: may log in again
    assert again.status_code == 303
    assert client.get("/api/v1/users/me").status_code == 200
    client.post("/logout", data={"csrf_token": "forged"})  # a cross-site form cannot log out
    assert client.get("/api/v1/users/me").status_code == 200
