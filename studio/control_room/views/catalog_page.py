"""Catalog: edit products in a table; saving checks them with the CSV import's rules.

Only the cells the host changed are sent (``PUT /api/products``), so a save
never puts back a stock figure that orders lowered while the table was open.
Nothing is saved while any row is wrong, and every problem is listed by row.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

import catalog
from catalog.csvio import catalog_csv, parse_catalog_csv
from catalog.validation import COLUMNS
from studio.control_room import ui
from studio.control_room.client import ControlError

EDITOR_KEY = "catalog_editor"
# Bumped after a save or discard: a new editor key starts from the saved table.
GENERATION_KEY = "catalog_generation"


def catalog_frame(products: list[catalog.Product]) -> pd.DataFrame:
    rows = [p.to_row() | {"active": p.active} for p in products]
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"stock": "int64", "price": "float64"})


def column_config() -> dict[str, Any]:
    cc = st.column_config
    label = {c: ui.t(f"col_{c}") for c in COLUMNS}
    return {
        "sku": cc.TextColumn(label["sku"], required=True, max_chars=64, pinned=True),
        "name": cc.TextColumn(label["name"], required=True, max_chars=200),
        "name_zh": cc.TextColumn(label["name_zh"], max_chars=200),
        "description": cc.TextColumn(label["description"], max_chars=2000, width="medium"),
        "price": cc.NumberColumn(label["price"], min_value=0.0, step=0.01, format="%.2f", required=True),
        "currency": cc.TextColumn(label["currency"], max_chars=3, default="CNY"),
        "unit": cc.TextColumn(label["unit"], max_chars=200),
        "stock": cc.NumberColumn(label["stock"], min_value=0, step=1, format="%d", default=0),
        "origin": cc.TextColumn(label["origin"], max_chars=200),
        "image": cc.TextColumn(label["image"]),
        "buy_url": cc.TextColumn(label["buy_url"], width="medium"),
        "active": cc.CheckboxColumn(label["active"], default=True),
        "max_per_order": cc.NumberColumn(label["max_per_order"], min_value=1, max_value=999, step=1, format="%d"),
    }


def plain(value: Any) -> Any:
    """Editor cells (numpy scalars, NaN) as JSON values the API accepts."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def pending_changes(original: pd.DataFrame, edits: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The editor's edit state -> API items and the problems found before sending.

    Rows are numbered as the table shows them (1 = first product). A changed
    SKU would break buy links already printed, so it is refused here.
    """
    items: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for position, changes in sorted((int(k), v) for k, v in (edits.get("edited_rows") or {}).items()):
        if not changes:
            continue
        base = {c: plain(original.iloc[position][c]) for c in COLUMNS}
        values = base | {c: plain(v) for c, v in changes.items() if c in COLUMNS}
        row = position + 1
        if values["sku"] != base["sku"]:
            problems.append({"row": row, "field": "sku", "text": ui.t("sku_renamed")})
            continue
        items.append({"row": row, "values": values, "fields": sorted(c for c in changes if c in COLUMNS)})
    for offset, added in enumerate(edits.get("added_rows") or []):
        values = {c: plain(added.get(c)) for c in COLUMNS}
        if all(v is None or v == "" for k, v in values.items() if k not in ("active", "currency", "stock")):
            continue  # an empty row the host added and left blank
        items.append({"row": len(original) + offset + 1, "values": values})
    return items, problems


def show_problems(problems: list[dict[str, Any]]) -> None:
    st.error(ui.t("not_saved"))
    table = pd.DataFrame(
        {
            ui.t("col_row"): [p["row"] for p in problems],
            ui.t("col_field"): [ui.t(f"col_{p['field']}") if p["field"] in COLUMNS else p["field"] for p in problems],
            ui.t("col_problem"): [problem_text(p) for p in problems],
        }
    )
    st.dataframe(table, hide_index=True)


def problem_text(problem: dict[str, Any]) -> str:
    if ui.lang() == "zh" and problem.get("hint_zh"):
        return f"{problem['hint_zh']}（{problem.get('message', '')}）"
    return problem.get("message") or problem["text"]


def save(original: pd.DataFrame, editor_key: str) -> None:
    items, problems = pending_changes(original, st.session_state.get(editor_key) or {})
    if problems:
        st.session_state["catalog_problems"] = problems
        return
    if not items:
        st.session_state["catalog_notice"] = ui.t("nothing_to_save")
        return
    send(items)


def send(items: list[dict[str, Any]]) -> None:
    try:
        result = ui.client().save_products(items)
    except ControlError as error:
        if error.details:
            st.session_state["catalog_problems"] = error.details
        else:
            st.session_state["catalog_error"] = error.message(ui.lang())
        return
    st.session_state["catalog_saved"] = ui.t("saved", **result)
    discard()


def import_file() -> None:
    """A spreadsheet export, checked by the CSV importer's parser, saved through the same API."""
    upload = st.session_state.get("catalog_upload")
    if upload is None:
        return
    products, columns, errors = parse_catalog_csv(upload.getvalue())
    if errors:
        st.session_state["catalog_problems"] = [asdict(e) for e in errors]
        return
    items = [
        {"row": number, "values": p.to_row() | {"active": p.active}, "fields": columns}
        for number, p in enumerate(products, start=2)
    ]
    send(items)


def discard() -> None:
    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1


def main() -> None:
    ui.page("nav_catalog")
    products = catalog.list_products(ui.database())
    original = catalog_frame(products)
    st.caption(ui.t("catalog_intro"))
    if "catalog_saved" in st.session_state:
        st.success(st.session_state.pop("catalog_saved"))
    if "catalog_notice" in st.session_state:
        st.info(st.session_state.pop("catalog_notice"))
    if "catalog_error" in st.session_state:
        st.error(st.session_state.pop("catalog_error"))
    if "catalog_problems" in st.session_state:
        show_problems(st.session_state.pop("catalog_problems"))
    editor_key = f"{EDITOR_KEY}_{st.session_state.get(GENERATION_KEY, 0)}"
    st.data_editor(
        original,
        key=editor_key,
        num_rows="add",
        hide_index=True,
        column_config=column_config(),
        column_order=[
            "sku", "name_zh", "name", "price", "currency", "unit",
            "stock", "origin", "active", "buy_url", "image", "description",
        ],
        width="stretch",
    )
    left, middle, right = st.columns([1, 1, 3])
    left.button(ui.t("save"), type="primary", key="save", width="stretch", on_click=save, args=(original, editor_key))
    middle.button(ui.t("discard"), key="discard", width="stretch", on_click=discard)
    right.download_button(
        ui.t("export_csv"),
        data=catalog_csv(products).encode("utf-8-sig"),
        file_name="farmlive-catalog.csv",
        mime="text/csv",
        key="export",
    )
    with st.expander(ui.t("import_csv")):
        st.file_uploader(ui.t("import_csv"), type=["csv", "txt"], key="catalog_upload", label_visibility="collapsed")
        st.button(ui.t("import_button"), key="import", on_click=import_file)


main()
