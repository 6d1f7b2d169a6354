"""The API docs work with no internet: Swagger UI is served from the package, not a CDN."""

import httpx


async def test_docs_page_uses_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn.jsdelivr.net" not in page.text and "/docs-assets/swagger-ui-bundle.js" in page.text
    js = await client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert (await client.get("/openapi.json")).status_code == 200
