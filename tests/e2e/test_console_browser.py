"""The web console in headless Chromium, as an admin uses it.

Log in with the system key, create a model and a channel to a fake upstream, test-call it,
create a key (its secret shown once, then gone from the page), stream a chat in the
playground, and find the usage row and the audit entries. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.gateway.console.client import api
from tests.harness import Gateway, gateway_settings, running_gateway

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
XSS_MODEL = '<img src=x onerror="window.__xss=1">'
XSS_CODE = "<script>window.__xss=2</script>"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path)) as gw:
        yield gw


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    yield page
    await context.close()
    assert errors == []


async def log_in(page: Page, gw: Gateway) -> None:
    await page.goto(gw.url + "/console/")
    await page.get_by_label("Console API key").fill(gw.key)
    await page.get_by_role("button", name="Log in with key").click()
    await expect(page.get_by_role("heading", name="Models")).to_be_visible()


async def create_model_and_channel(page: Page, upstream: FakeOpenAI) -> None:
    await page.get_by_role("button", name="New model").click()
    await page.get_by_label("Name", exact=True).fill("gpt-e2e")
    await page.get_by_role("button", name="Create model").click()
    await expect(page.get_by_role("cell", name="gpt-e2e", exact=True)).to_be_visible()
    await page.get_by_role("link", name="Channels").click()
    await page.get_by_role("button", name="New channel").click()
    form = page.get_by_role("form", name="New channel")
    await form.get_by_label("Code (optional)").fill("ch-e2e")
    await form.get_by_label("Model", exact=True).select_option("gpt-e2e")
    await form.get_by_label("Upstream URL").fill(upstream.url)
    await form.get_by_label("API key (write-only)").fill(API_KEY)
    await form.get_by_label("Deploy name (upstream model)").fill("gpt-upstream")
    await form.get_by_label("Max concurrency (0 = unlimited)").fill("2")
    await form.get_by_label("Price per 1k input tokens").fill("1")
    await form.get_by_label("Price per 1k output tokens").fill("2")
    await page.get_by_role("button", name="Create channel").click()
    await expect(page.get_by_role("cell", name="ch-e2e", exact=True)).to_be_visible()
    await expect(page.get_by_role("cell", name="0 / 2")).to_be_visible()
    await page.get_by_role("button", name="Test ch-e2e").click()
    await expect(page.get_by_role("status")).to_contain_text("ch-e2e: HTTP 200")


async def create_key(page: Page) -> str:
    await page.get_by_role("link", name="Keys").click()
    await page.get_by_role("button", name="New key").click()
    await page.get_by_label("Name", exact=True).fill("e2e-key")
    await page.get_by_role("button", name="Create key").click()
    holder = page.get_by_label("The new secret")
    await expect(holder).to_be_visible()
    secret = await holder.input_value()
    assert secret.startswith("sk-")
    assert secret not in await page.content()  # a property, never an attribute
    await page.get_by_role("button", name="Use in playground").click()
    await page.get_by_role("button", name="Done").click()
    await expect(page.get_by_label("The new secret")).to_have_count(0)
    assert secret not in await page.content()
    await expect(page.get_by_role("cell", name="e2e-key", exact=True)).to_be_visible()
    return secret


async def stream_in_playground(page: Page, upstream: FakeOpenAI) -> None:
    upstream.interval_s = 0.15
    await page.get_by_role("link", name="Playground").click()
    await page.get_by_label("Model", exact=True).select_option("gpt-e2e")
    await page.get_by_role("button", name="Send").click()
    output = page.locator("#playground-output")
    await expect(output).to_contain_text("tok0")
    assert "tok4" not in await output.inner_text()  # tokens arrive while the stream runs
    await expect(output).to_have_text("tok0 tok1 tok2 tok3 tok4 ")
    await expect(page.locator("#playground-stats")).to_contain_text("channel ch-e2e")
    assert upstream.requests[-1]["stream"] is True


async def test_admin_journey(
    page: Page, gateway: Gateway, upstream: FakeOpenAI, artifacts: Path
) -> None:
    await log_in(page, gateway)
    await create_model_and_channel(page, upstream)
    await page.screenshot(path=artifacts / "console-channels-1280.png", full_page=True)
    secret = await create_key(page)
    await stream_in_playground(page, upstream)
    await page.screenshot(path=artifacts / "console-playground-1280.png", full_page=True)
    await gateway.usage()  # flushed to the store
    await page.get_by_role("link", name="Usage").click()
    model_row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="gpt-e2e"))
    await expect(model_row.first).to_contain_text("1")
    csv = page.get_by_role("link", name="CSV by model")
    assert "format=csv" in (await csv.get_attribute("href") or "")
    await page.screenshot(path=artifacts / "console-usage-1280.png", full_page=True)
    await page.get_by_role("link", name="Audit log").click()
    for what in ("channel create", "model create", "apikey create", "session login"):
        await expect(page.get_by_role("cell", name=what, exact=True).first).to_be_visible()
    assert secret not in await page.content()
    assert API_KEY not in await page.content()
    await page.screenshot(path=artifacts / "console-audit-1280.png", full_page=True)


async def test_phone_width_and_escaping(
    page: Page, gateway: Gateway, upstream: FakeOpenAI, artifacts: Path
) -> None:
    await api(gateway, "POST", "/console/models", body={"name": XSS_MODEL})
    body = {"code": XSS_CODE, "model": XSS_MODEL, "protocol": "openai", "url": upstream.url}
    assert (await api(gateway, "POST", "/console/channels", body=body))[0] == 201
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await log_in(page, gateway)
    main = page.get_by_role("main")
    await expect(main.get_by_text(XSS_MODEL, exact=True).first).to_be_visible()
    await page.get_by_role("link", name="Channels").click()
    await expect(main.get_by_text(XSS_CODE, exact=True)).to_be_visible()
    assert await page.evaluate("window.__xss") is None
    assert await page.locator("main img").count() == 0
    assert await page.locator("main script").count() == 0
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1  # tables scroll inside their box, the page does not
    await page.screenshot(path=artifacts / "console-channels-phone.png", full_page=True)
    await page.get_by_role("link", name="Keys").click()
    await expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    await page.screenshot(path=artifacts / "console-keys-phone.png", full_page=True)
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_label("Console API key")).to_be_visible()
