"""The self-check quiz over the whole course, as data: questions, options, the one right answer and
why each option is right or wrong.

Notebook 05 shows it with :func:`course_utils.widgets.together.quiz_widget`; tests check that every
question has exactly one right answer and an explanation for every option. Read a question's
feedback with :meth:`Question.feedback`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .validation import check_int

__all__ = ["Option", "Question", "QUESTIONS", "question", "validate", "score"]


@dataclass(frozen=True)
class Option:
    """One answer: its text, whether it is the right one, and why (shown after it is picked)."""

    text: str
    correct: bool
    why: str


@dataclass(frozen=True)
class Question:
    """A multiple-choice question about one notebook (``notebook`` = '01' ... '05')."""

    key: str
    notebook: str
    prompt: str
    options: tuple[Option, ...]

    @property
    def answer(self) -> int:
        """Index of the right option (a clear error, not StopIteration, when there is not exactly one)."""
        right = [i for i, option in enumerate(self.options) if option.correct]
        if len(right) != 1:
            raise ValueError(
                f"options of question {self.key!r} must hold exactly one right answer (correct=True), "
                f"got {len(right)}: mark the right option with True and every other with False."
            )
        return right[0]

    def feedback(self, choice: int) -> tuple[bool, str]:
        """``(is_right, explanation)`` for the option at index ``choice``."""
        choice = check_int("choice", choice, minimum=0, maximum=len(self.options) - 1)
        option = self.options[choice]
        return option.correct, option.why


def _q(key: str, notebook: str, prompt: str, *options: tuple[str, bool, str]) -> Question:
    return Question(key, notebook, prompt, tuple(Option(*o) for o in options))


QUESTIONS: tuple[Question, ...] = (
    _q(
        "scales", "01",
        "The wine features range from about 0.1 (hue) to about 1000 (proline). What goes wrong when a model is "
        "trained on them unnormalized with gradient descent?",
        ("The loss surface becomes a long, narrow valley: a learning rate small enough for the large-scale feature "
         "is far too small for the others, so training is slow or unstable.", True,
         "Gradient steps are not scale-invariant. Standardizing makes the valley round, and one learning "
         "rate suits every weight."),
        ("The model can no longer represent a good solution.", False,
         "Rescaling a feature can be undone by rescaling its weight: the same functions are representable. The "
         "problem is optimization, not capacity."),
        ("Nothing: gradient descent is invariant to the scale of the features.", False,
         "It is not: a feature 1000 times larger gets gradients 1000 times larger for its weight."),
        ("The validation score becomes optimistic (data leakage).", False,
         "Leakage comes from computing normalization statistics on validation/test data, not from skipping it."),
    ),
    _q(
        "leakage", "01",
        "Where should the mean and standard deviation used to standardize the inputs come from?",
        ("The training split only, then applied unchanged to validation and test.", True,
         "Anything computed from validation or test rows leaks information about them into training."),
        ("The whole dataset, so the statistics are as accurate as possible.", False,
         "That uses the validation/test rows to build the model: the reported score becomes optimistic (leakage)."),
        ("Each test batch, computed when predicting.", False,
         "Then a prediction depends on which other examples share the batch, and a single example cannot be "
         "standardized at all."),
        ("The test split, because that is where the model is judged.", False,
         "Fitting anything on the test split is leakage: the test score is no longer an honest estimate."),
    ),
    _q(
        "depth", "01",
        "A deep ReLU network without normalization is initialized with weights half as large as Kaiming's "
        "(gain 0.5). What happens to the activations, layer after layer?",
        ("They shrink towards zero (vanish), and so do the gradients of the early layers.", True,
         "Each layer multiplies the activation scale by about the gain, so 0.5^depth shrinks fast."),
        ("They grow without bound (explode).", False, "That is what a gain above 1 does, not 0.5."),
        ("They saturate at +-1.", False, "Saturation is a tanh/sigmoid effect with large inputs; ReLU has no "
         "upper limit and these inputs are small."),
        ("They keep the same scale in every layer.", False,
         "Only Kaiming's full std sqrt(2/fan_in) keeps the variance through depth for ReLU (torch writes it as "
         "calculate_gain('relu') = sqrt(2) times sqrt(1/fan_in)); half of it loses a factor ~2 per layer."),
    ),
    _q(
        "dropout_p", "02",
        "What does torch.nn.Dropout(p=0.2) do to its input in training mode?",
        ("Zeroes each element with probability 0.2 and multiplies the survivors by 1/0.8 = 1.25.", True,
         "Inverted dropout. The expected output equals the input, so eval mode is simply the identity."),
        ("Keeps each element with probability 0.2.", False,
         "That is the keep-probability convention (the paper, cs231n, TF1 keep_prob); torch's p is the probability "
         "to drop."),
        ("Zeroes exactly 20% of the elements.", False,
         "Each element is an independent coin flip: the number dropped is binomial, 20% only on average."),
        ("Multiplies every element by 0.8.", False,
         "That is the old weight-scaling at test time for non-inverted dropout, not what torch does in training."),
    ),
    _q(
        "eval", "02",
        "A model with Dropout gives a different prediction each time for the same input. What is the fix?",
        ("Call model.eval() before predicting.", True,
         "Eval mode makes Dropout the identity (and BatchNorm use its running statistics)."),
        ("Wrap the prediction in torch.no_grad().", False,
         "no_grad only stops gradient tracking; Dropout is still active in train mode."),
        ("Fix the random seed before each prediction.", False,
         "That makes the answer repeatable but it is still one random thinned network, not the full model."),
        ("Lower p.", False, "A smaller p still draws a random mask in training mode."),
    ),
    _q(
        "relu_placement", "02",
        "With the same mask, how do ReLU(dropout(x)) and dropout(ReLU(x)) compare?",
        ("They are identical.", True,
         "For c >= 0, ReLU(c x) = c ReLU(x), and the mask times 1/(1-p) is such a c. For sigmoid they differ."),
        ("Dropout before ReLU gives larger outputs.", False, "They are equal element by element for ReLU."),
        ("They are identical for every activation function.", False,
         "For sigmoid, a dropped unit gives sigmoid(0) = 0.5 before, but 0 after."),
        ("Dropout after ReLU zeroes twice as many units.", False, "The same mask zeroes the same units."),
    ),
    _q(
        "bn_train", "03",
        "In training mode, which statistics does BatchNorm1d normalize a feature with?",
        ("The mean and the biased variance of that feature over the current batch.", True,
         "Batch statistics in training; the running averages are only updated, and used in eval mode."),
        ("Its running mean and running variance.", False, "That is eval mode."),
        ("The mean and variance over the features of each sample.", False, "That is LayerNorm."),
        ("The mean and the unbiased variance (m/(m-1)) over the batch.", False,
         "The unbiased estimate is what running_var stores; the normalization itself uses the biased one."),
    ),
    _q(
        "bn_bias", "03",
        "Why is the bias of a Linear layer redundant right before BatchNorm?",
        ("BatchNorm subtracts the batch mean, which removes any constant added per feature; its beta takes the "
         "bias's role.", True, "The bias's gradient is exactly zero, so use bias=False."),
        ("Because BatchNorm has no learnable parameters.", False, "It has two per feature: gamma (weight) and beta "
         "(bias)."),
        ("Because the bias would get too large gradients.", False, "Its gradient is exactly zero, not large."),
        ("It is not redundant: removing it changes what the network computes.", False,
         "With the mean subtracted right after, the network computes exactly the same function without it."),
    ),
    _q(
        "bn_eval_worse", "03",
        "After a short training run, your BatchNorm model is much worse in eval() than in train(). The most likely "
        "cause and fix?",
        ("The running statistics do not match the data yet: recompute them with a pass over training batches, "
         "weights frozen (or momentum=None for a cumulative average).", True,
         "Eval mode uses running_mean/running_var, which lag behind after few steps or drift with the weights."),
        ("eval() switches off gamma and beta.", False, "gamma and beta are used in both modes."),
        ("Dropout is still active in eval mode.", False, "eval() turns Dropout off."),
        ("eps is too small.", False, "eps only guards against dividing by ~0; it does not explain a train/eval gap."),
    ),
    _q(
        "small_batch", "03",
        "You can only fit 2 images per GPU for a ResNet. Which normalization kept its accuracy in Wu & He's "
        "(2018) ImageNet measurements?",
        ("GroupNorm: its statistics are per sample (over groups of channels), so its error stayed ~24.1% from 32 "
         "down to 2 images per GPU.", True,
         "BatchNorm's error rose from 23.6% (32 per GPU) to 34.7% (2 per GPU); GroupNorm's stayed 24.0-24.2%."),
        ("LayerNorm: it is per sample too, and it was the best layer in their comparison.", False,
         "LayerNorm is batch-independent, but at 32 images per GPU it was worse than BatchNorm (25.3% vs 23.6%) and "
         "than GroupNorm (24.1%) on their ResNet-50."),
        ("BatchNorm with a larger momentum.", False,
         "The training-time normalization still uses 2 examples' statistics, which are mostly noise."),
        ("BatchNorm, because 2 examples are enough to estimate a mean.", False,
         "A mean and a variance from 2 numbers are very noisy, and the error rises sharply at batch 2."),
    ),
    _q(
        "ln_axes", "04",
        "What does LayerNorm normalize over?",
        ("The features of each sample: the same computation in training and inference, whatever the batch.", True,
         "No running statistics, and a batch of one works."),
        ("Each feature over the batch.", False, "That is BatchNorm."),
        ("Each channel over H x W, per sample.", False, "That is InstanceNorm."),
        ("Running averages collected during training.", False, "LayerNorm keeps no running statistics."),
    ),
    _q(
        "ln_shape", "04",
        "What does nn.LayerNorm(64) do to a tensor of shape (N, 64, 8, 8)?",
        ("It raises an error: normalized_shape must match the trailing dimension(s), here 8.", True,
         "For the paper's LayerNorm on images use nn.LayerNorm((64, 8, 8)); channels-last LN permutes to "
         "(N, 8, 8, 64) first."),
        ("It normalizes the 64 channels at every pixel.", False,
         "Only after moving channels last (N, H, W, C): LayerNorm normalizes the trailing dimensions."),
        ("It normalizes over the batch.", False, "LayerNorm never uses the batch dimension."),
        ("It normalizes over (64, 8, 8).", False, "That needs normalized_shape=(64, 8, 8)."),
    ),
    _q(
        "pre_ln", "04",
        "Why do most Transformers place LayerNorm before each sublayer (Pre-LN)?",
        ("With Post-LN the gradient norm at initialization grows towards the output and training needs a "
         "learning-rate warm-up; Pre-LN trains without it (Xiong et al. 2020).", True,
         "Post-LN without warm-up reached BLEU 8.45 vs ~34 with it on IWSLT14 De-En."),
        ("Pre-LN normalizes over the batch, which is more stable.", False, "Both place a LayerNorm, which is per "
         "token."),
        ("Pre-LN has fewer parameters.", False, "Same layers, same parameter count: only the position differs."),
        ("Post-LN cannot be trained at all.", False, "It can, with warm-up and care; it is just harder."),
    ),
    _q(
        "rmsnorm", "04",
        "How does RMSNorm differ from LayerNorm?",
        ("It does not subtract the mean: it divides by the root mean square and multiplies by a learned gain.", True,
         "X / RMS(x) * g (Zhang & Sennrich 2019), cheaper and about as good in practice."),
        ("It normalizes over the batch.", False, "It is per sample, like LayerNorm."),
        ("It has no learnable parameters.", False, "It has a learned gain per feature."),
        ("It uses running statistics at inference.", False, "No running statistics: the same computation always."),
    ),
    _q(
        "block", "05",
        "Stack two of the blocks Linear -> BatchNorm -> ReLU -> Dropout. What does block 1's Dropout feed, and what "
        "did notebook 05 measure about it?",
        ("Block 2's Linear and then its BatchNorm: Dropout -> Linear -> BN, exactly the variance-shift situation. "
         "The BN's inference variance was ~0.8 of its running_var, and BN+dropout did not beat BN alone in the grid.",
         True,
         "Dropout last in a block means dropout before the next block's BN. That is why the course says: put "
         "dropout only after the last BN, or recompute the BN statistics with dropout off."),
        ("Nothing that normalizes: dropout sits after the normalization, so no BatchNorm ever sees its noise.", False,
         "Within one block that is true, but in a stack the next block's BatchNorm sees it (through a Linear)."),
        ("Block 2's ReLU, which removes the dropout noise.", False,
         "Block 2 starts with its Linear and BatchNorm; the ReLU comes after them."),
        ("The output layer only, so dropout cannot interact with BatchNorm.", False,
         "Only the last block's Dropout feeds the output layer; every other one feeds a BatchNorm."),
    ),
    _q(
        "variance_shift", "05",
        "Dropout feeds a BatchNorm layer. What happens at inference, and how is it fixed?",
        ("The BN input has a smaller variance than running_var (dropout added variance in training): put dropout "
         "only after the last BN, or recompute the BN statistics with dropout off.", True,
         "The variance ratio falls below 1 (about 0.8 in notebook 05) and both fixes bring it back to ~1."),
        ("The variance is larger than running_var.", False,
         "Dropout adds variance x^2 p/(1-p) in training, so training saw the larger variance."),
        ("Nothing: inverted dropout keeps the mean, so BN sees the same statistics.", False,
         "The mean is kept, the variance is not."),
        ("It only matters for p > 0.5.", False, "Any p > 0 adds variance; larger p adds more."),
    ),
    _q(
        "momentum", "05",
        "PyTorch's BatchNorm momentum=0.1 corresponds to which Keras/TensorFlow momentum?",
        ("0.9", True, "Torch updates running = (1 - 0.1) running + 0.1 batch; Keras writes the 0.9."),
        ("0.1", False, "Keras' momentum is the weight of the old running value: 0.1 there means torch's 0.9."),
        ("0.01", False, "No: the two conventions add up to 1."),
        ("There is no equivalent.", False, "Both are the same exponential moving average, written two ways."),
    ),
    _q(
        "overfit", "05",
        "An MLP *with BatchNorm* reaches 100% training accuracy on 200 digits while validation lags. What did "
        "notebook 05's grid measure about adding Dropout(0.5) to it?",
        ("On top of BatchNorm, dropout did not narrow the gap further at our scale, and on all digits it did not "
         "raise the accuracy either.", True,
         "Measure before you stack regularizers: each was under a point on every set of seeds the course ran (on "
         "some, BN alone even ended higher)."),
        ("It narrowed the gap on every seed, as dropout always does.", False,
         "Even without normalization dropout's effect on the gap was small and not supported on every set of "
         "seeds; on top of BN it did not narrow the gap by even a point."),
        ("It made training faster.", False,
         "Dropout did not reach 90% validation accuracy sooner in the grid; BatchNorm and LayerNorm did."),
        ("Removing BatchNorm would regularize more.", False,
         "Without normalization the 200-digit gap was larger on average, not smaller."),
    ),
    _q(
        "paired_read", "05",
        "Method A beats method B on 4 of 5 paired seeds; the loss on the fifth seed is small. What does the course's "
        "rule (one-sided sign-flip test, p < 0.05) conclude?",
        ("Not supported: with 5 seeds only 5 wins out of 5 give p = 1/32 < 0.05; run more seeds if the effect "
         "matters.", True,
         "4 wins and a small loss give p = 2/32 = 0.0625: of the 32 sign patterns, two reach the observed mean."),
        ("Supported: 4 of 5 is a clear majority.", False,
         "Under no effect, 4 or more wins of 5 happen by chance 6 times in 32 (19%)."),
        ("Supported if A's mean is higher than B's.", False,
         "A higher mean on 5 seeds happens by chance about half the time under no effect."),
        ("B is better, because it won on one seed.", False,
         "One win of 5 is evidence for nothing; reversing the question needs 5 wins for B."),
    ),
    _q(
        "paired_why", "05",
        "Two methods' validation accuracies vary by 1 point from seed to seed, but their per-seed difference is "
        "+0.3 points on each of 6 paired seeds. Is that evidence?",
        ("Yes: pairing cancels the luck both runs share (same subset, batches, initialization), so 6 wins of 6 "
         "give p = 1/64.", True,
         "What matters is the spread of the per-seed gains, not the spread of each method alone."),
        ("No: the gain is smaller than the seed-to-seed spread, so it is noise.", False,
         "That reasoning fits two unpaired samples; with paired seeds the shared luck cancels."),
        ("No: 0.3 points is one validation digit, which cannot be measured.", False,
         "One digit per seed on six seeds in a row is measurable; whether it matters is another question."),
        ("Yes, but only if each method was run on different seeds.", False,
         "Different seeds would mix the method's effect with the luck of each run; pairing is what makes it work."),
    ),
)


def question(key: str) -> Question:
    """The question with this ``key``."""
    for q in QUESTIONS:
        if q.key == key:
            return q
    raise ValueError(f"key must be one of {[q.key for q in QUESTIONS]}, got {key!r}.")


def validate(q: Question) -> None:
    """Raise ``ValueError`` unless ``q`` has >= 2 distinct options, exactly one right, and an explanation each."""
    if not isinstance(q, Question):
        raise TypeError(f"q must be a Question, got {type(q).__name__}.")
    if not 2 <= len(q.options) <= 8:
        raise ValueError(f"question {q.key!r} needs 2 to 8 options (A..H), got {len(q.options)}.")
    right = sum(option.correct for option in q.options)
    if right != 1:
        raise ValueError(f"question {q.key!r} must have exactly one right option, got {right}.")
    texts = [option.text.strip().lower() for option in q.options]
    if len(set(texts)) != len(texts):
        raise ValueError(f"question {q.key!r} repeats an option.")
    for i, option in enumerate(q.options):
        if not option.why.strip():
            raise ValueError(f"question {q.key!r}, option {i}: every option needs an explanation ('why').")
    if not q.prompt.strip():
        raise ValueError(f"question {q.key!r} has an empty prompt.")


def score(answers: Mapping[str, int | None]) -> tuple[int, int]:
    """``(right, answered)`` for ``{question key: chosen option index or None}``."""
    right = answered = 0
    for key, choice in answers.items():
        if choice is None:
            continue
        answered += 1
        right += question(key).feedback(choice)[0]
    return right, answered
