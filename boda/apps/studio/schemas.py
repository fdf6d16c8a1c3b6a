"""3D Studio's API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool

from boda.core.models import Visibility
from boda.core.schemas import JsonInt, json_int

MAX_PROMPT = 1000
Format = Literal["glb", "fbx", "obj", "usdz", "stl", "ply"]
ProviderName = Literal["composer", "meshy", "hunyuan3d"]


class EnhanceIn(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT, pattern=r"\S", description="What to make, in any "
                        "language; the enhanced prompt keeps its language.")
    candidates: JsonInt = Field(default=1, ge=1, le=8, description="Best of N: N candidates scored by the LLM "
                            "against a rubric, all returned, the best first chosen.")


class PromptCandidateOut(BaseModel):
    text: str
    score: float | None = None
    reasons: str | None = None


class EnhanceOut(BaseModel):
    original: str
    enhanced: str
    language: str
    candidates: list[PromptCandidateOut] = Field(default_factory=list)
    best_index: int = 0


class SystemPromptIn(BaseModel):
    system_prompt: str | None = Field(default=None, max_length=4000, description="Your own instructions for the "
                                      "prompt enhancer; empty or null goes back to the default.")


class SystemPromptOut(BaseModel):
    system_prompt: str | None = Field(description="Your own instructions; null when you use the default.")
    defaults: dict[str, str] = Field(description="The default (the seed's) instructions per language (ko, en): "
                                     "the enhancer answers in the language of the prompt.")


class GenerationIn(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT, pattern=r"\S", description="What to make.")
    provider: ProviderName | None = Field(default=None, description="The 3D generator; default "
                                          "`generate3d.provider`.")
    enhance: StrictBool = Field(default=False, description="Let the LLM enhance the prompt first (the job does it).")
    enhanced_prompt: str | None = Field(default=None, max_length=MAX_PROMPT, description="A prompt already "
                                        "enhanced (and maybe edited) by the user: sent as it is.")
    art_style: Literal["realistic", "sculpture"] | None = None
    refine: StrictBool = Field(default=True, description="Meshy: texture the preview mesh (refine) after it.")
    remix_of: str | None = Field(default=None, max_length=36, description="A model you may see that this one remixes.")


class ProviderOut(BaseModel):
    name: str
    fidelity: str
    configured: bool
    description: str


class ModelOut(BaseModel):
    id: str
    owner_id: str
    title: str
    source: str
    provider: str | None
    fidelity: str | None
    prompt: str
    enhanced_prompt: str | None
    status: str
    error: str | None
    visibility: str
    household_id: str | None = None
    created_at: datetime
    published_at: datetime | None
    remix_of_id: str | None
    stats: dict[str, Any] | None
    formats: list[str]
    likes: int
    liked: bool = False
    ratings: int
    rating_mean: float | None
    my_rating: int | None = None
    score: float | None
    score_std: float | None
    score_probs: list[float] | None
    score_method: str | None = Field(description="`learned` (from the community's ratings) or `technical` "
                                     "(BRISQUE image quality, until enough models are rated).")
    thumbnail_url: str | None
    turntable_url: str | None
    download_urls: dict[str, str]
    share_url: str | None = None
    job_id: str | None = None


class GenerationOut(BaseModel):
    model: ModelOut
    job_id: str


class _ModelChange(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)


class ModelPatchHousehold(_ModelChange):
    """Share with one household the caller belongs to (else 409)."""

    visibility: Literal[Visibility.household]
    household_id: str = Field(max_length=36)


class ModelPatchOther(_ModelChange):
    """Any other change: visibility private, unlisted (a share link) or public (the gallery), or left as it is."""

    visibility: Literal[Visibility.private, Visibility.unlisted, Visibility.public] | None = None
    household_id: None = Field(default=None, description="Given only with `household` visibility.")


ModelPatch = ModelPatchHousehold | ModelPatchOther


class RatingIn(BaseModel):
    score: json_int(1, 10) | None = Field(
        description="1 (poor) to 10 (beautiful); null takes your rating back.")


class ScorerOut(BaseModel):
    trained_on: int
    spearman: float | None
    features: str
    created_at: datetime
