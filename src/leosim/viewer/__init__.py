"""3D viewer of a run: CZML scene (:mod:`.czml`), local server (:mod:`.server`), CesiumJS assets
(:mod:`.assets`) and the ``leosim view`` command (:mod:`.cli`).

Nothing here is imported by the rest of leosim; the browser side is in ``static/``.
"""
