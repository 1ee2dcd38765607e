"""worldplan's Gymnasium environments, registered lazily by string entry point."""

import gymnasium


# --- MATH (issue 3): worldplan/Math-v0 -----------------------------------------------------
def _register_math() -> None:
    if "worldplan/Math-v0" not in gymnasium.registry:
        gymnasium.register(id="worldplan/Math-v0", entry_point="worldplan.envs.math.env:MathEnv")


_register_math()
# --- end MATH ------------------------------------------------------------------------------


# --- web (issue 4): worldplan/miniwob.<task>-v0 and worldplan/web-v0 --------------------------
def _register_web() -> None:
    from worldplan.envs.web.registration import register_web_envs

    register_web_envs()


_register_web()
# --- end web -------------------------------------------------------------------------------
