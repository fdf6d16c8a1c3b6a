"""What can I cook: Korean stock meets English recipes, what spoils soon rises, exclusions hold, and it is fast."""

from __future__ import annotations

import time

from boda.apps.pantry.recipes_rank import (
    RecipeIndex,
    RecipeInput,
    StockItem,
    corpus_index,
    line_key,
    similar_title,
    vocabulary,
)

SMALL = [
    RecipeInput("a", "Onion Omelette", ("3 eggs", "1 onion, chopped", "salt", "1 tbsp oil")),
    RecipeInput("b", "Spinach Omelette", ("3 eggs", "1 cup spinach", "salt", "pepper")),
    RecipeInput("c", "Buttered Noodles", ("200 g noodles", "2 tbsp butter", "salt")),
    RecipeInput("d", "Salted Water", ("1 l water", "1 tsp salt")),
    RecipeInput("e", "두부조림", ("두부 1모", "간장 2큰술", "대파 1/2대", "고춧가루 1작은술")),
]


def test_korean_and_english_names_meet_on_one_key() -> None:
    vocab = vocabulary()
    assert vocab.key_ko("대파") == vocab.key_en("green onions") == line_key("3 green onions, sliced")
    assert line_key("다진마늘 1작은술") == line_key("2 cloves garlic, minced") == "garlic"
    assert line_key("소금 약간") == line_key("1/2 tsp salt") == "salt"
    assert line_key("1 red bell pepper") != line_key("4 tsp pepper")


def test_a_household_of_korean_names_finds_bulgogi_in_the_english_corpus() -> None:
    stock = [StockItem(name_ko=k, days_left=d) for k, d in
             [("소고기", 2), ("간장", 200), ("대파", 4), ("참기름", 300), ("마늘", 20), ("설탕", 500), ("양파", 10)]]
    ranked = corpus_index().rank(stock, limit=5)
    assert "Bulgogi" in [r.title for r in ranked]
    bulgogi = next(r for r in ranked if r.title == "Bulgogi")
    assert {"beef", "green onion", "soy sauce", "sesame oil", "garlic"} <= set(bulgogi.have)
    assert 0.6 < bulgogi.coverage < 1.0 and bulgogi.missing


def test_what_spoils_soonest_rises() -> None:
    index = RecipeIndex(SMALL)
    base = [StockItem("eggs", days_left=10), StockItem("salt"), StockItem("oil")]
    spinach_soon = index.rank([*base, StockItem("onion", days_left=30), StockItem("spinach", days_left=1)])
    onion_soon = index.rank([*base, StockItem("onion", days_left=1), StockItem("spinach", days_left=30)])
    assert spinach_soon[0].title == "Spinach Omelette" and onion_soon[0].title == "Onion Omelette"


def test_staples_count_lightly_and_alone_rank_nothing() -> None:
    index = RecipeIndex(SMALL)
    assert index.rank([StockItem("salt"), StockItem("water"), StockItem("oil")]) == []
    ranked = {r.title: r for r in index.rank([StockItem("eggs"), StockItem("spinach")])}
    assert ranked["Spinach Omelette"].coverage > 0.8  # only salt and pepper missing: light
    assert ranked["Onion Omelette"].coverage < 0.5


def test_exclusions_by_title_and_by_ingredient_and_expired_items() -> None:
    index = RecipeIndex(SMALL)
    stock = [StockItem("eggs", days_left=3), StockItem("spinach", days_left=3), StockItem("onion", days_left=3)]
    titles = [r.title for r in index.rank(stock, exclude_titles=["spinach omelet"])]
    assert "Spinach Omelette" not in titles and "Onion Omelette" in titles
    assert [r.title for r in index.rank(stock, exclude_ingredients=["달걀"])] == []  # eggs, named in Korean
    assert index.rank([StockItem(name_ko="두부", days_left=-2)]) == []
    assert index.rank([StockItem(name_ko="두부", days_left=-2)], include_expired=True)[0].title == "두부조림"


def test_similar_titles() -> None:
    assert similar_title("양파 조림", "양파조림") and similar_title("Spinach Omelette", "spinach omelet")
    assert similar_title("삼겹살 덮밥", "매콤 삼겹살덮밥") and not similar_title("삼겹살 덮밥", "김치찌개")
    assert not similar_title("밥", "삼겹살 덮밥")  # a one-syllable title does not swallow every dish
    assert similar_title("Crème Brûlée", "creme brulee") and not similar_title("Pie", "Apple Pie")


def test_ten_thousand_recipes_and_two_hundred_items_answer_fast() -> None:
    base = list(corpus_index().titles)
    lines = ["2 eggs", "1 onion", "200 g beef", "1 cup rice", "2 tbsp soy sauce", "1 carrot", "3 potatoes",
             "1 cup milk", "2 tbsp butter", "1 tsp salt", "100 g cheese", "2 tomatoes", "1 lb chicken",
             "두부 1모", "대파 1대", "김치 1컵", "1 cup flour", "2 cloves garlic", "1 lemon", "1 cup spinach"]
    recipes = [RecipeInput(str(i), base[i % len(base)], tuple(lines[(i + j * 7) % len(lines)] for j in range(8)))
               for i in range(10_000)]
    index = RecipeIndex(recipes)
    names = [row.split(" ", 2)[-1] for row in lines] * 10
    stock = [StockItem(name_en=n, days_left=i % 15) for i, n in enumerate(names)]
    index.rank(stock)
    took = []
    for _ in range(20):
        start = time.perf_counter()
        assert index.rank(stock, limit=20, exclude_titles=["Bulgogi"])
        took.append(time.perf_counter() - start)
    assert sorted(took)[18] < 0.05  # p95 of 20; bench/pantry_rank.py measures more


def test_excluded_titles_never_leave_the_list_short() -> None:
    recipes = [RecipeInput(str(i), f"Egg Dish {i}" if i < 30 else f"Other {i}", ("2 eggs", "1 onion"))
               for i in range(60)]
    index = RecipeIndex(recipes)
    excluded = [f"Egg Dish {i}" for i in range(30)]
    ranked = index.rank([StockItem("eggs")], limit=10, exclude_titles=excluded)
    assert len(ranked) == 10 and all(r.title.startswith("Other") for r in ranked)


def test_household_and_corpus_recipes_rank_together() -> None:
    from boda.apps.pantry.recipes_rank import what_can_i_cook

    own = [RecipeInput("7", "우리집 두부조림", ("두부 1모", "간장 2큰술", "대파 1/2대"))]
    stock = [StockItem(name_ko="두부", days_left=1), StockItem(name_ko="간장"), StockItem(name_ko="대파", days_left=3)]
    ranked = what_can_i_cook(stock, own, limit=5)
    assert ranked[0] == ("household", ranked[0][1]) and ranked[0][1].recipe_id == "7"
    assert ranked[0][1].coverage == 1.0 and {s for s, _ in ranked[1:]} == {"corpus"}
    assert what_can_i_cook(stock, own, with_corpus=False, exclude_titles=["우리집 두부조림"]) == []
