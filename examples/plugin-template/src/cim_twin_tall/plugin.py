"""The plugin module named by the entry point: indicators and the hook that registers them.

Kept exactly as the example in cim_twin's docs/plugins.md.
"""
# ruff: noqa: I001

from cim_twin.plugins import hookimpl, Indicator, IndicatorSpec

class TallBuildings(Indicator):
    spec = IndicatorSpec(code="X-TALL", name_en="Buildings over 10 m", name_zh="高于10米的建筑",
                         category="安全韧性", level="building", unit="m")
    def evaluate(self, ctx):
        for b in ctx.buildings():
            if b.height_m is not None and b.height_m > 10:
                yield ctx.problem(self, b, value=b.height_m, threshold=10.0, severity="low",
                                  message_en="taller than 10 m")

@hookimpl
def register_indicators(register):
    register(TallBuildings())
