"""`humanoid`: rigged, skinned, animated game characters from MakeHuman's CC0 base mesh.

A category is a body type (heroic, stocky, slender, child, elder) whose macro parameters
(gender, age, muscle, weight, proportions, height) are drawn from the seed; the body is shaped
by MakeHuman's macro targets, its skeleton re-fitted to it, dressed (`clothing.py`), and
exported as one skinned GLB per level of detail with idle/walk/run/wave clips.
"""

from generators.core.family import Family

FAMILY = Family(
    name="humanoid",
    generator="generators.humanoid.generator:HumanoidGenerator",
    order=31,  # after the prop and texture models (texture-gan is 30)
    requires=("texture-gan",),  # fabric maps of the clothes
)
