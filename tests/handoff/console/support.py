"""A signed-in console client over real HTTP, and account set-up for the console tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from handoff.accounts import create_account
from storage.db import Database

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def add_account(
    database: Database, login: str, *, role: str = "counselor", pools: str = "general,dv"
) -> str:
    """Creates a console account (password :data:`PASSWORD`); returns its id."""
    async with database.session() as session:
        account = await create_account(
            session,
            login=login,
            display_name=f"テスト {login}",
            role=role,
            pools=pools.split(","),
            password=PASSWORD,
        )
        return account.id


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


class Console:
    """One counselor's browser: its own cookie jar, no automatic redirects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=10, follow_redirects=False)
        self.csrf = ""

    async def aclose(self) -> None:
        await self.http.aclose()

    async def login(self, login: str, password: str = PASSWORD) -> httpx.Response:
        page = await self.http.get("/console/login")
        assert page.status_code == 200
        response = await self.http.post(
            "/console/login",
            data={"csrf_token": csrf_of(page.text), "login": login, "password": password},
        )
        if response.status_code == 303:
            queue = await self.http.get("/console")
            assert queue.status_code == 200
            self.csrf = csrf_of(queue.text)
        return response

    async def post(self, path: str, **fields: Any) -> httpx.Response:
        return await self.http.post(path, data={"csrf_token": self.csrf, **fields})

    async def case_page(self, case_id: str) -> httpx.Response:
        return await self.http.get(f"/console/cases/{case_id}")
