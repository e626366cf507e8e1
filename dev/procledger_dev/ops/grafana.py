"""The small Grafana model the dashboards are written in, and its rendering to Grafana JSON."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# Every query goes to the data source the viewer picks in the `datasource` variable: no uid is
# hard-coded, so the dashboards work with any Prometheus data source.
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24
RATE = "$__rate_interval"  # Grafana picks a window of at least four scrape intervals

TEMPLATE_VARIABLE = re.compile(r"\$[a-z_]+")

PanelType = Literal["timeseries", "stat", "bargauge", "table", "barchart", "row"]
Threshold = tuple[float | None, str]  # (lower bound, colour); None is the base step


@dataclass(frozen=True, slots=True)
class Target:
    """One PromQL query; `instant` for tables and bar gauges that show the latest value."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    type: PanelType
    targets: tuple[Target, ...]
    description: str = ""
    unit: str = "short"
    width: int = 12
    height: int = 8
    thresholds: tuple[Threshold, ...] = ((None, "green"),)
    decimals: int | None = None
    # Bar charts: the label that names each bar, and whether bars add up (a running total).
    x_field: str = ""
    cumulative: bool = False


def stat(
    title: str,
    expr: str,
    description: str,
    thresholds: tuple[Threshold, ...] = ((None, "green"),),
    unit: str = "short",
) -> Panel:
    """A quarter-width single-value panel, the dashboards' headline figures."""
    targets = (Target(expr),)
    return Panel(title, "stat", targets, description, unit, 6, 4, thresholds)


def row(title: str) -> Panel:
    """A full-width section heading; the panels after it belong to it."""
    return Panel(title, "row", (), width=GRID_WIDTH, height=1)


@dataclass(frozen=True, slots=True)
class Variable:
    """A drop-down of one label's values (multi-select, with All matching any value)."""

    name: str
    label: str
    metric: str  # the series whose `label_name` values are offered
    label_name: str

    @property
    def definition(self) -> str:
        return f"label_values({self.metric}, {self.label_name})"


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = field(default=("procledger",))


def quantiles(
    metric: str, qs: Sequence[float], by: str = "", where: str = ""
) -> tuple[Target, ...]:
    """histogram_quantile targets, one per quantile, over the series `where` selects."""
    grouping = f"le, {by}" if by else "le"
    selector = f"{{{where}}}" if where else ""
    return tuple(
        Target(
            f"histogram_quantile({q}, sum by ({grouping}) "
            f"(rate({metric}_bucket{selector}[{RATE}])))",
            f"p{round(q * 100)}" + (f" {{{{{by}}}}}" if by else ""),
        )
        for q in qs
    )


def _variable_json(variable: Variable) -> dict[str, Any]:
    return {
        "type": "query",
        "name": variable.name,
        "label": variable.label,
        "datasource": DATASOURCE,
        "definition": variable.definition,
        "query": {"query": variable.definition, "refId": "PrometheusVariableQueryEditor"},
        "refresh": 2,  # on time range change: new instances and topics appear
        "includeAll": True,
        "multi": True,
        "allValue": ".*",  # panels match with =~"$name"
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
        "regex": "",
    }


def _templating(dashboard: Dashboard) -> dict[str, Any]:
    datasource = {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "current": {},
        "options": [],
        "refresh": 1,
        "hide": 0,
        "regex": "",
    }
    return {"list": [datasource, *(_variable_json(v) for v in dashboard.variables)]}


def _transformations(panel: Panel) -> list[dict[str, Any]]:
    if panel.type == "table":
        # One row per label set: merge the instant queries, drop the timestamp column.
        return [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ]
    if panel.type == "barchart":
        steps: list[dict[str, Any]] = [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
            {"id": "sortBy", "options": {"sort": [{"field": panel.x_field, "desc": False}]}},
        ]
        if panel.cumulative:
            steps.append({
                "id": "calculateField",
                "options": {"mode": "cumulativeFunctions", "alias": "running total",
                            "cumulative": {"field": "Value", "reducer": "sum"},
                            "replaceFields": False},
            })  # fmt: skip
        return steps
    return []


def _options(panel: Panel) -> dict[str, Any]:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    legend = {"displayMode": "list", "placement": "bottom", "showLegend": True}
    if panel.type == "timeseries":
        return {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}
    if panel.type == "stat":
        return {"reduceOptions": reduce, "colorMode": "background", "graphMode": "area"}
    if panel.type == "bargauge":
        return {"reduceOptions": {**reduce, "values": True}, "orientation": "horizontal",
                "displayMode": "gradient", "showUnfilled": True}  # fmt: skip
    if panel.type == "barchart":
        return {"xField": panel.x_field, "orientation": "vertical", "legend": legend,
                "tooltip": {"mode": "multi", "sort": "none"}, "showValue": "never",
                "xTickLabelRotation": -45, "barWidth": 0.8, "groupWidth": 0.7}  # fmt: skip
    return {"showHeader": True, "cellHeight": "sm"}


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    pos = {"x": x, "y": y, "w": panel.width, "h": panel.height}
    if panel.type == "row":
        return {"id": panel_id, "type": "row", "title": panel.title, "collapsed": False,
                "gridPos": pos, "panels": []}  # fmt: skip
    steps = [{"color": colour, "value": bound} for bound, colour in panel.thresholds]
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
        "color": {"mode": "thresholds" if panel.type == "stat" else "palette-classic"},
    }
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if panel.cumulative:
        # The thresholds (e.g. the USD 1bn headline) drawn as a line across the bars.
        defaults["custom"] = {"thresholdsStyle": {"mode": "line+area"}}
    tabular = panel.type in {"table", "barchart"}
    targets = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": t.expr,
            "legendFormat": t.legend or "__auto",
            "instant": t.instant,
            "range": not t.instant,
            "format": "table" if tabular else "time_series",
        }
        for i, t in enumerate(panel.targets)
    ]
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": pos,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": _options(panel),
    }
    transformations = _transformations(panel)
    if transformations:
        out["transformations"] = transformations
    return out


def _links(dashboard: Dashboard, others: Sequence[Dashboard]) -> list[dict[str, Any]]:
    """A link to every other dashboard, keeping the time range and the data source."""
    return [
        {
            "type": "link",
            "title": other.title,
            "url": f"/d/{other.uid}?${{datasource:queryparam}}",
            "tooltip": other.description,
            "icon": "dashboard",
            "keepTime": True,
            "includeVars": False,
            "targetBlank": False,
            "asDropdown": False,
            "tags": [],
        }
        for other in others
        if other.uid != dashboard.uid
    ]


def render(dashboard: Dashboard, others: Sequence[Dashboard] = ()) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model; panels flow left to right, then down."""
    panels: list[dict[str, Any]] = []
    x = y = row_height = 0
    for number, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, number, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": "utc",
        "editable": False,  # the JSON is generated: edit procledger_dev.ops.dashboards instead
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "templating": _templating(dashboard),
        "annotations": {"list": []},
        "links": _links(dashboard, others),
        "panels": panels,
    }


def as_promql(expr: str, window: str = "1m") -> str:
    """A panel's query as Grafana sends it with every variable at All (its allValue ".*") and
    `window` for $__rate_interval and $__range: what tests and the expression browser run."""
    for interval in ("$__rate_interval", "$__range"):
        expr = expr.replace(interval, window)
    return TEMPLATE_VARIABLE.sub(".*", expr)
