"""The primitive composer's offline library: hand-made blockouts of common objects, found by meaning.

Used only when no LLM is configured (`boda.ai.composer.compose_offline`): the prompt is
matched against each template's phrases (English and Korean) with the multilingual text
encoder, and the `main` parts take the prompt's first colour. Made for Boda, no licence
beyond the project's. Y is up, the ground is y = 0, the front faces +z, sizes in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

from boda.ai.composer import Part, Scene

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class Template:
    phrases: tuple[str, ...]
    main: frozenset[str]  # parts that take the colour the prompt names
    scene: Scene


def p(name: str, shape: str, size: Vec, position: Vec, color: str, rotation: Vec = (0, 0, 0), metallic: float = 0.0,
      roughness: float = 0.6) -> Part:
    return Part(name=name, shape=shape, size=list(size), position=list(position), rotation=list(rotation),  # type: ignore[arg-type]
                color=color, metallic=metallic, roughness=roughness)


def wheels(xs: tuple[float, ...], z: float, diameter: float, width: float, colour: str = "black") -> list[Part]:
    """Wheels along x on both sides (cylinders turned to roll along x), with silver hubs."""
    out = []
    for i, x in enumerate(xs):
        for side, sz in (("left", -z), ("right", z)):
            out.append(p(f"wheel {i + 1} {side}", "cylinder", (diameter, width, diameter), (x, diameter / 2, sz),
                         colour, (90, 0, 0), roughness=0.9))
            out.append(p(f"hub {i + 1} {side}", "cylinder", (diameter * 0.45, width * 1.1, diameter * 0.45),
                         (x, diameter / 2, sz), "silver", (90, 0, 0), metallic=0.9, roughness=0.3))
    return out


def legs(xs: Vec | tuple[float, float], zs: tuple[float, float], height: float, thick: float, colour: str,
         shape: str = "cylinder") -> list[Part]:
    return [p(f"leg {i + 1}", shape, (thick, height, thick), (x, height / 2, z), colour)
            for i, (x, z) in enumerate((x, z) for x in xs for z in zs)]


def t(phrases: tuple[str, ...], main: tuple[str, ...], title: str, parts: list[Part]) -> Template:
    names = {part.name for part in parts}
    assert set(main) <= names, (title, set(main) - names)
    return Template(phrases, frozenset(main), Scene(title=title, parts=parts))


TEMPLATES: dict[str, Template] = {
    "car": t(("a car", "a small passenger car", "a toy car", "sedan automobile", "a sports car", "a pickup truck",
             "자동차", "승용차", "스포츠카", "장난감 자동차"),
             ("body", "cabin"), "car", [
        p("body", "box", (3.8, 0.7, 1.7), (0, 0.75, 0), "red", roughness=0.35, metallic=0.3),
        p("cabin", "box", (2.0, 0.65, 1.5), (-0.2, 1.42, 0), "red", roughness=0.35, metallic=0.3),
        p("windows", "box", (1.9, 0.5, 1.55), (-0.2, 1.45, 0), "#2b3a4a", roughness=0.1, metallic=0.5),
        p("headlight left", "sphere", (0.2, 0.2, 0.2), (1.9, 0.85, -0.6), "#fff6c0", roughness=0.2),
        p("headlight right", "sphere", (0.2, 0.2, 0.2), (1.9, 0.85, 0.6), "#fff6c0", roughness=0.2),
        *wheels((-1.2, 1.2), 0.85, 0.75, 0.3),
    ]),
    "fire_truck": t(("a fire truck", "fire engine with a ladder", "emergency firefighting vehicle", "소방차",
                     "소방 트럭", "사다리 소방차", "장난감 소방차"), ("body", "cab"), "fire truck", [
        p("body", "box", (4.6, 1.4, 2.0), (-0.6, 1.25, 0), "red", metallic=0.3, roughness=0.4),
        p("cab", "box", (1.5, 1.6, 2.0), (2.35, 1.35, 0), "red", metallic=0.3, roughness=0.4),
        p("windshield", "box", (0.1, 0.6, 1.8), (3.1, 1.75, 0), "#2b3a4a", metallic=0.5, roughness=0.1),
        p("bumper", "box", (0.2, 0.3, 2.1), (3.15, 0.6, 0), "silver", metallic=0.9, roughness=0.3),
        p("stripe", "box", (6.1, 0.15, 2.04), (0.15, 1.0, 0), "white"),
        p("light bar", "box", (0.3, 0.15, 1.2), (2.35, 2.22, 0), "#3060ff", roughness=0.2),
        p("ladder rail left", "box", (4.2, 0.1, 0.08), (-0.6, 2.1, -0.35), "silver", metallic=0.9, roughness=0.3),
        p("ladder rail right", "box", (4.2, 0.1, 0.08), (-0.6, 2.1, 0.35), "silver", metallic=0.9, roughness=0.3),
        *[p(f"ladder rung {i + 1}", "cylinder", (0.05, 0.7, 0.05), (-2.5 + i * 0.5, 2.1, 0), "silver", (90, 0, 0),
            metallic=0.9, roughness=0.3) for i in range(9)],
        p("hose reel", "cylinder", (0.6, 0.3, 0.6), (-1.5, 1.25, 1.1), "#e0c040", (90, 0, 0)),
        *wheels((-2.0, -0.9, 2.2), 0.95, 0.9, 0.35),
    ]),
    "bus": t(("a bus", "a city bus", "school bus", "버스", "스쿨버스", "시내버스"), ("body",), "bus", [
        p("body", "box", (6.0, 2.2, 2.2), (0, 1.5, 0), "yellow", roughness=0.4),
        p("window band", "box", (5.6, 0.7, 2.24), (0, 2.0, 0), "#2b3a4a", metallic=0.5, roughness=0.1),
        p("windshield", "box", (0.06, 0.9, 1.9), (3.0, 1.95, 0), "#2b3a4a", metallic=0.5, roughness=0.1),
        p("bumper", "box", (0.2, 0.3, 2.25), (3.05, 0.55, 0), "black"),
        *wheels((-2.0, 2.0), 1.0, 0.9, 0.35),
    ]),
    "airplane": t(("an airplane", "a passenger jet plane", "aircraft with wings", "a fighter jet",
                  "비행기", "여객기", "제트기", "전투기"),
                  ("fuselage",), "airplane", [
        p("fuselage", "capsule", (0.9, 6.0, 0.9), (0, 1.5, 0), "white", (0, 0, 90), metallic=0.3, roughness=0.3),
        p("wing", "box", (1.2, 0.1, 6.0), (0.2, 1.35, 0), "light grey", metallic=0.5, roughness=0.4),
        p("tail fin", "box", (0.9, 1.1, 0.1), (-2.6, 2.3, 0), "red"),
        p("stabiliser", "box", (0.7, 0.08, 2.2), (-2.6, 1.6, 0), "light grey", metallic=0.5, roughness=0.4),
        p("engine left", "cylinder", (0.4, 0.9, 0.4), (0.3, 1.05, -1.4), "grey", (0, 0, 90), metallic=0.8),
        p("engine right", "cylinder", (0.4, 0.9, 0.4), (0.3, 1.05, 1.4), "grey", (0, 0, 90), metallic=0.8),
        p("cockpit", "sphere", (0.6, 0.35, 0.6), (2.6, 1.75, 0), "#2b3a4a", metallic=0.5, roughness=0.1),
        *[p(f"gear strut {i + 1}", "cylinder", (0.08, 0.9, 0.08), (x, 0.6, z), "grey", metallic=0.8)
          for i, (x, z) in enumerate(((2.0, 0), (0, -0.6), (0, 0.6)))],
        *[p(f"gear wheel {i + 1}", "cylinder", (0.3, 0.14, 0.3), (x, 0.15, z), "black", (90, 0, 0), roughness=0.9)
          for i, (x, z) in enumerate(((2.0, 0), (0, -0.6), (0, 0.6)))],
    ]),
    "rocket": t(("a rocket", "space rocket ship", "a spaceship launching", "로켓", "우주선", "우주 로켓"),
                ("body",), "rocket", [
        p("body", "cylinder", (0.8, 3.0, 0.8), (0, 2.0, 0), "white", metallic=0.2, roughness=0.4),
        p("nose", "cone", (0.8, 1.0, 0.8), (0, 4.0, 0), "red", metallic=0.2, roughness=0.4),
        p("window", "sphere", (0.35, 0.35, 0.1), (0, 2.8, 0.4), "#6ec6ff", metallic=0.3, roughness=0.1),
        p("window ring", "torus", (0.45, 0.06, 0.45), (0, 2.8, 0.4), "silver", (90, 0, 0), metallic=0.9),
        *[p(f"fin {i + 1}", "box", (0.06, 0.9, 0.6), (0.55 * dx, 0.8, 0.55 * dz), "red", (0, ry, 0))
          for i, (dx, dz, ry) in enumerate(((1, 0, 90), (-1, 0, 90), (0, 1, 0), (0, -1, 0)))],
        p("nozzle", "cone", (0.6, 0.5, 0.6), (0, 0.3, 0), "dark grey", metallic=0.8, roughness=0.4),
    ]),
    "boat": t(("a boat", "sailing boat", "a ship on water", "yacht", "배", "보트", "요트", "돛단배"),
              ("hull",), "boat", [
        p("hull", "box", (4.0, 0.8, 1.6), (0, 0.4, 0), "white", roughness=0.4),
        p("bow", "cylinder", (1.6, 0.8, 1.6), (2.0, 0.4, 0), "white", roughness=0.4),
        p("deck", "box", (4.0, 0.06, 1.5), (0, 0.82, 0), "wood"),
        p("cabin", "box", (1.4, 0.6, 1.1), (-0.8, 1.15, 0), "white"),
        p("mast", "cylinder", (0.1, 3.5, 0.1), (0.5, 2.55, 0), "wood"),
        p("sail", "box", (1.6, 2.8, 0.03), (-0.35, 2.5, 0), "cream"),
        p("stripe", "box", (4.02, 0.12, 1.62), (0, 0.6, 0), "navy"),
    ]),
    "bicycle": t(("a bicycle", "a bike with two wheels", "자전거", "두발 자전거"), ("frame", "fork"), "bicycle", [
        p("front wheel", "torus", (1.4, 0.08, 1.4), (1.0, 0.7, 0), "black", (90, 0, 0), roughness=0.9),
        p("back wheel", "torus", (1.4, 0.08, 1.4), (-1.0, 0.7, 0), "black", (90, 0, 0), roughness=0.9),
        p("frame", "cylinder", (0.07, 1.6, 0.07), (0.0, 1.1, 0), "blue", (0, 0, 75), metallic=0.6, roughness=0.3),
        p("seat tube", "cylinder", (0.07, 0.9, 0.07), (-0.4, 1.05, 0), "blue", (0, 0, 15), metallic=0.6),
        p("fork", "cylinder", (0.06, 0.9, 0.06), (0.9, 1.05, 0), "blue", (0, 0, 15), metallic=0.6),
        p("seat", "box", (0.35, 0.08, 0.18), (-0.5, 1.55, 0), "black"),
        p("handlebar", "cylinder", (0.05, 0.7, 0.05), (0.8, 1.55, 0), "silver", (90, 0, 0), metallic=0.9),
    ]),
    "house": t(("a house", "a small cottage with a roof", "home building", "집", "주택", "오두막", "작은 집"),
               ("walls",), "house", [
        p("walls", "box", (4.0, 2.6, 3.2), (0, 1.3, 0), "cream", roughness=0.8),
        p("roof left", "box", (4.4, 0.15, 2.3), (0, 3.25, -0.8), "#a03020", (-37, 0, 0), roughness=0.7),
        p("roof right", "box", (4.4, 0.15, 2.3), (0, 3.25, 0.8), "#a03020", (37, 0, 0), roughness=0.7),
        p("gable", "cone", (1.0, 1.2, 3.2), (0, 3.15, 0), "cream", roughness=0.8),
        p("door", "box", (0.8, 1.6, 0.08), (0, 0.8, 1.62), "wood"),
        p("window left", "box", (0.7, 0.7, 0.08), (-1.2, 1.6, 1.62), "light blue", roughness=0.1),
        p("window right", "box", (0.7, 0.7, 0.08), (1.2, 1.6, 1.62), "light blue", roughness=0.1),
        p("chimney", "box", (0.4, 1.0, 0.4), (1.3, 3.7, -0.6), "#8b4a3a"),
    ]),
    "castle_tower": t(("a castle tower", "a stone tower", "medieval castle", "lighthouse", "성", "성탑", "탑",
                       "등대"), ("tower",), "tower", [
        p("tower", "cylinder", (1.6, 5.0, 1.6), (0, 2.5, 0), "light grey", roughness=0.9),
        p("ledge", "cylinder", (1.9, 0.3, 1.9), (0, 5.1, 0), "grey", roughness=0.9),
        *[p(f"battlement {i + 1}", "box", (0.3, 0.4, 0.3), (0.8 * dx, 5.45, 0.8 * dz), "grey", roughness=0.9)
          for i, (dx, dz) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1), (0.7, 0.7), (-0.7, 0.7), (0.7, -0.7),
                                        (-0.7, -0.7)))],
        p("roof", "cone", (1.7, 1.8, 1.7), (0, 6.15, 0), "#2d4f8a"),
        p("door", "box", (0.6, 1.1, 0.1), (0, 0.55, 0.8), "wood"),
        p("window", "box", (0.35, 0.6, 0.1), (0, 3.5, 0.8), "#2b3a4a"),
    ]),
    "tree": t(("a tree", "a leafy tree", "an oak tree", "나무", "큰 나무", "활엽수"), ("crown",), "tree", [
        p("trunk", "cylinder", (0.4, 2.0, 0.4), (0, 1.0, 0), "brown", roughness=0.9),
        p("crown", "sphere", (2.2, 2.0, 2.2), (0, 2.8, 0), "green", roughness=0.8),
        p("crown left", "sphere", (1.4, 1.3, 1.4), (-0.9, 2.3, 0.2), "green", roughness=0.8),
        p("crown right", "sphere", (1.4, 1.3, 1.4), (0.9, 2.4, -0.2), "green", roughness=0.8),
    ]),
    "pine_tree": t(("a pine tree", "christmas tree", "fir tree", "conifer", "소나무", "크리스마스 트리", "전나무"),
                   ("tier 1", "tier 2", "tier 3"), "pine tree", [
        p("trunk", "cylinder", (0.35, 1.0, 0.35), (0, 0.5, 0), "brown", roughness=0.9),
        p("tier 1", "cone", (2.2, 1.6, 2.2), (0, 1.6, 0), "dark green", roughness=0.8),
        p("tier 2", "cone", (1.7, 1.4, 1.7), (0, 2.4, 0), "dark green", roughness=0.8),
        p("tier 3", "cone", (1.2, 1.2, 1.2), (0, 3.1, 0), "dark green", roughness=0.8),
        p("star", "sphere", (0.25, 0.25, 0.25), (0, 3.75, 0), "gold", metallic=0.8, roughness=0.3),
    ]),
    "flower": t(("a flower", "a flower in bloom with petals", "daisy", "tulip", "sunflower", "rose",
                "꽃", "꽃 한 송이", "데이지", "해바라기", "장미"),
                ("petal 1", "petal 2", "petal 3", "petal 4", "petal 5"), "flower", [
        p("stem", "cylinder", (0.06, 1.2, 0.06), (0, 0.6, 0), "green"),
        p("leaf", "sphere", (0.35, 0.05, 0.15), (0.15, 0.5, 0), "green", (0, 0, 30)),
        p("centre", "sphere", (0.22, 0.12, 0.22), (0, 1.25, 0), "yellow"),
        *[p(f"petal {i + 1}", "sphere", (0.3, 0.06, 0.14), (0.2 * cx, 1.22, 0.2 * cz), "pink", (0, ry, 0))
          for i, (cx, cz, ry) in enumerate(((1.0, 0.0, 0), (0.31, -0.95, 72), (-0.81, -0.59, 144),
                                             (-0.81, 0.59, 216), (0.31, 0.95, 288)))],
    ]),
    "mushroom": t(("a mushroom", "toadstool with spots", "버섯", "독버섯", "광대버섯"), ("cap",), "mushroom", [
        p("stem", "cylinder", (0.5, 1.0, 0.5), (0, 0.5, 0), "cream"),
        p("cap", "sphere", (1.6, 0.8, 1.6), (0, 1.1, 0), "red", roughness=0.5),
        *[p(f"spot {i + 1}", "sphere", (0.22, 0.1, 0.22), (x, y, z), "white")
          for i, (x, y, z) in enumerate(((0, 1.5, 0), (0.5, 1.35, 0.2), (-0.45, 1.35, -0.25), (0.1, 1.3, 0.55)))],
    ]),
    "table": t(("a table", "a wooden dining table", "desk", "탁자", "테이블", "식탁", "책상"), ("top",), "table", [
        p("top", "box", (1.6, 0.08, 0.9), (0, 0.76, 0), "wood", roughness=0.7),
        *legs((-0.7, 0.7), (-0.35, 0.35), 0.72, 0.08, "brown"),
    ]),
    "chair": t(("a chair", "a wooden chair", "seat with a backrest", "의자", "나무 의자"), ("seat", "back"), "chair", [
        p("seat", "box", (0.5, 0.06, 0.5), (0, 0.46, 0), "wood", roughness=0.7),
        p("back", "box", (0.5, 0.5, 0.05), (0, 0.74, -0.23), "wood", roughness=0.7),
        *legs((-0.21, 0.21), (-0.21, 0.21), 0.43, 0.05, "brown", shape="box"),
    ]),
    "sofa": t(("a sofa", "a couch", "armchair", "소파", "쇼파", "안락의자"), ("base", "back", "arm left", "arm right"),
              "sofa", [
        p("base", "box", (2.0, 0.45, 0.9), (0, 0.3, 0), "navy", roughness=0.9),
        p("back", "box", (2.0, 0.6, 0.25), (0, 0.8, -0.33), "navy", roughness=0.9),
        p("arm left", "box", (0.2, 0.35, 0.9), (-1.0, 0.65, 0), "navy", roughness=0.9),
        p("arm right", "box", (0.2, 0.35, 0.9), (1.0, 0.65, 0), "navy", roughness=0.9),
        p("cushion left", "box", (0.85, 0.15, 0.65), (-0.45, 0.6, 0.08), "light grey", roughness=0.9),
        p("cushion right", "box", (0.85, 0.15, 0.65), (0.45, 0.6, 0.08), "light grey", roughness=0.9),
        *legs((-0.9, 0.9), (-0.35, 0.35), 0.08, 0.08, "black"),
    ]),
    "lamp": t(("a lamp", "a desk lamp", "floor lamp with a shade", "램프", "스탠드", "조명", "전등"), ("shade",),
              "lamp", [
        p("base", "cylinder", (0.4, 0.05, 0.4), (0, 0.025, 0), "dark grey", metallic=0.8, roughness=0.3),
        p("pole", "cylinder", (0.04, 1.2, 0.04), (0, 0.65, 0), "silver", metallic=0.9, roughness=0.3),
        p("bulb", "sphere", (0.14, 0.18, 0.14), (0, 1.25, 0), "#fff6c0", roughness=0.1),
        p("shade", "cone", (0.6, 0.45, 0.6), (0, 1.35, 0), "cream", roughness=0.8),
    ]),
    "cup": t(("a cup", "a coffee mug", "teacup with a handle", "컵", "머그컵", "커피잔", "찻잔"), ("body", "handle"),
             "cup", [
        p("body", "cylinder", (0.8, 0.9, 0.8), (0, 0.45, 0), "white", roughness=0.3),
        p("coffee", "cylinder", (0.72, 0.02, 0.72), (0, 0.85, 0), "#3b2416", roughness=0.2),
        p("handle", "torus", (0.5, 0.09, 0.5), (0.45, 0.45, 0), "white", (90, 0, 0), roughness=0.3),
    ]),
    "robot": t(("a robot", "a toy robot", "android machine", "로봇", "장난감 로봇", "인조인간"),
               ("torso", "head"), "robot", [
        p("torso", "box", (1.0, 1.2, 0.6), (0, 1.5, 0), "silver", metallic=0.8, roughness=0.3),
        p("head", "box", (0.7, 0.55, 0.55), (0, 2.4, 0), "silver", metallic=0.8, roughness=0.3),
        p("eye left", "sphere", (0.14, 0.14, 0.06), (-0.16, 2.45, 0.28), "cyan", roughness=0.1),
        p("eye right", "sphere", (0.14, 0.14, 0.06), (0.16, 2.45, 0.28), "cyan", roughness=0.1),
        p("antenna", "cylinder", (0.04, 0.35, 0.04), (0, 2.85, 0), "dark grey", metallic=0.8),
        p("antenna tip", "sphere", (0.12, 0.12, 0.12), (0, 3.05, 0), "red"),
        p("panel", "box", (0.5, 0.35, 0.04), (0, 1.6, 0.31), "blue"),
        p("arm left", "capsule", (0.22, 1.0, 0.22), (-0.68, 1.4, 0), "dark grey", metallic=0.8),
        p("arm right", "capsule", (0.22, 1.0, 0.22), (0.68, 1.4, 0), "dark grey", metallic=0.8),
        p("leg left", "box", (0.3, 0.9, 0.35), (-0.25, 0.45, 0), "dark grey", metallic=0.8),
        p("leg right", "box", (0.3, 0.9, 0.35), (0.25, 0.45, 0), "dark grey", metallic=0.8),
    ]),
    "dog": t(("a dog", "a puppy", "a cute animal with four legs", "개", "강아지", "멍멍이", "동물"),
             ("body", "head"), "dog", [
        p("body", "capsule", (0.6, 1.4, 0.6), (0, 0.75, 0), "tan", (90, 0, 0), roughness=0.9),
        p("head", "sphere", (0.55, 0.55, 0.55), (0, 1.15, 0.75), "tan", roughness=0.9),
        p("snout", "box", (0.25, 0.2, 0.3), (0, 1.05, 1.05), "beige", roughness=0.9),
        p("nose", "sphere", (0.1, 0.08, 0.08), (0, 1.12, 1.2), "black", roughness=0.3),
        p("ear left", "box", (0.1, 0.3, 0.18), (-0.28, 1.25, 0.7), "brown", roughness=0.9),
        p("ear right", "box", (0.1, 0.3, 0.18), (0.28, 1.25, 0.7), "brown", roughness=0.9),
        *legs((-0.2, 0.2), (-0.45, 0.45), 0.5, 0.16, "tan"),
        p("tail", "capsule", (0.1, 0.45, 0.1), (0, 1.0, -0.8), "tan", (-40, 0, 0), roughness=0.9),
    ]),
    "cat": t(("a cat", "a kitten", "고양이", "아기 고양이", "냥이"), ("body", "head"), "cat", [
        p("body", "capsule", (0.45, 1.0, 0.45), (0, 0.5, 0), "grey", (90, 0, 0), roughness=0.9),
        p("head", "sphere", (0.45, 0.42, 0.42), (0, 0.85, 0.5), "grey", roughness=0.9),
        p("ear left", "cone", (0.14, 0.2, 0.08), (-0.13, 1.1, 0.5), "grey", roughness=0.9),
        p("ear right", "cone", (0.14, 0.2, 0.08), (0.13, 1.1, 0.5), "grey", roughness=0.9),
        p("eye left", "sphere", (0.07, 0.07, 0.04), (-0.09, 0.9, 0.7), "lime", roughness=0.1),
        p("eye right", "sphere", (0.07, 0.07, 0.04), (0.09, 0.9, 0.7), "lime", roughness=0.1),
        *legs((-0.13, 0.13), (-0.3, 0.3), 0.32, 0.1, "grey"),
        p("tail", "capsule", (0.08, 0.7, 0.08), (0, 0.75, -0.6), "grey", (-30, 0, 0), roughness=0.9),
    ]),
    "snowman": t(("a snowman", "snow man with a hat", "눈사람"), ("bottom", "middle", "head"), "snowman", [
        p("bottom", "sphere", (1.4, 1.4, 1.4), (0, 0.7, 0), "white", roughness=0.9),
        p("middle", "sphere", (1.0, 1.0, 1.0), (0, 1.75, 0), "white", roughness=0.9),
        p("head", "sphere", (0.7, 0.7, 0.7), (0, 2.5, 0), "white", roughness=0.9),
        p("nose", "cone", (0.1, 0.35, 0.1), (0, 2.5, 0.45), "orange", (90, 0, 0)),
        p("eye left", "sphere", (0.07, 0.07, 0.07), (-0.12, 2.6, 0.32), "black"),
        p("eye right", "sphere", (0.07, 0.07, 0.07), (0.12, 2.6, 0.32), "black"),
        p("hat brim", "cylinder", (0.7, 0.05, 0.7), (0, 2.8, 0), "black"),
        p("hat", "cylinder", (0.45, 0.45, 0.45), (0, 3.05, 0), "black"),
        p("scarf", "torus", (0.8, 0.12, 0.8), (0, 2.2, 0), "red"),
    ]),
    "teddy_bear": t(("a teddy bear", "a stuffed toy bear", "plush bear", "곰", "곰인형", "테디베어", "곰돌이"),
                    ("body", "head", "ear left", "ear right", "arm left", "arm right", "leg left", "leg right"),
                    "teddy bear", [
        p("body", "sphere", (0.9, 1.1, 0.8), (0, 0.75, 0), "brown", roughness=1.0),
        p("head", "sphere", (0.7, 0.65, 0.65), (0, 1.6, 0), "brown", roughness=1.0),
        p("muzzle", "sphere", (0.3, 0.22, 0.2), (0, 1.52, 0.3), "beige", roughness=1.0),
        p("nose", "sphere", (0.1, 0.07, 0.06), (0, 1.58, 0.4), "black", roughness=0.3),
        p("ear left", "sphere", (0.22, 0.22, 0.12), (-0.28, 1.92, 0), "brown", roughness=1.0),
        p("ear right", "sphere", (0.22, 0.22, 0.12), (0.28, 1.92, 0), "brown", roughness=1.0),
        p("arm left", "capsule", (0.25, 0.6, 0.25), (-0.5, 0.95, 0.1), "brown", (0, 0, -30), roughness=1.0),
        p("arm right", "capsule", (0.25, 0.6, 0.25), (0.5, 0.95, 0.1), "brown", (0, 0, 30), roughness=1.0),
        p("leg left", "capsule", (0.3, 0.55, 0.3), (-0.28, 0.2, 0.25), "brown", (80, 0, 0), roughness=1.0),
        p("leg right", "capsule", (0.3, 0.55, 0.3), (0.28, 0.2, 0.25), "brown", (80, 0, 0), roughness=1.0),
    ]),
    "duck": t(("a rubber duck", "a duck", "bath toy duckling", "오리", "고무 오리", "러버덕"), ("body", "head"),
              "rubber duck", [
        p("body", "sphere", (1.2, 0.8, 0.9), (0, 0.4, 0), "yellow", roughness=0.3),
        p("head", "sphere", (0.6, 0.6, 0.6), (0.35, 1.0, 0), "yellow", roughness=0.3),
        p("beak", "box", (0.3, 0.1, 0.22), (0.7, 0.95, 0), "orange", roughness=0.3),
        p("eye left", "sphere", (0.08, 0.08, 0.06), (0.55, 1.12, -0.18), "black", roughness=0.2),
        p("eye right", "sphere", (0.08, 0.08, 0.06), (0.55, 1.12, 0.18), "black", roughness=0.2),
        p("tail", "cone", (0.25, 0.3, 0.25), (-0.65, 0.65, 0), "yellow", (0, 0, 50), roughness=0.3),
    ]),
}
