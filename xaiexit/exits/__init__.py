"""Early exit: when may a network stop thinking?

- rules (:mod:`~xaiexit.exits.rules`): ``MaxSoftmax``, ``Entropy``, ``Margin``: a score
  per sample at an exit and a threshold;
- the joint training loss (:func:`early_exit_loss`);
- inference that really stops (:func:`predict_with_exits`) and its simulation from all
  exits' logits (:func:`simulate_exits`);
- compute (:mod:`~xaiexit.exits.macs`): MACs per layer, block, exit;
- the oracle (:func:`oracle_exits`): the earliest correct exit (the first exit when none is
  correct): the best reachable accuracy, at the least compute that reaches it;
- calibration (:mod:`~xaiexit.exits.calibration`): ECE, reliability bins, temperature;
- thresholds chosen on validation (:func:`choose_thresholds`);
- saliency at an exit (:mod:`~xaiexit.exits.exit_saliency`): forward CAM, Grad-CAM and the
  input gradient (plain or SmoothGrad), with their MACs, measured times and a cascading
  randomisation check;
- is a map concentrated (:func:`spatial_entropy`, :func:`moment_of_inertia`), do two
  exits' maps agree (:func:`cosine_similarity_maps`, :func:`ssim_maps`,
  :func:`coherence_scores`);
- rules from saliency (:mod:`~xaiexit.exits.saliency_rules`): ``ConcentrationRule``,
  ``CoherenceRule``, ``OracleCoherenceRule``, ``Both``;
- the honest comparison (:func:`evaluate_exit_rules`): AUROC, accuracy-MACs area, oracle
  share, over several training seeds, with bootstrap intervals
  (:mod:`~xaiexit.exits.intervals`); the digits setting's networks
  (:func:`train_digits_networks`).
"""

from xaiexit.exits import intervals
from xaiexit.exits.calibration import expected_calibration_error, fit_temperature, reliability
from xaiexit.exits.coherence import (
    coherence_scores,
    cosine_similarity_maps,
    normalize_maps,
    resize_to_common,
    ssim_maps,
)
from xaiexit.exits.concentration import as_distribution, moment_of_inertia, spatial_entropy
from xaiexit.exits.digits_setting import DIGITS_MODEL, DIGITS_TRAINING, train_digits_networks
from xaiexit.exits.evaluation import (
    ExitRuleReport,
    RuleIntervals,
    RuleResult,
    accuracy_cost_area,
    auroc,
    evaluate_exit_rules,
    needed_outputs,
    rule_costs,
)
from xaiexit.exits.exit_saliency import (
    ExitOutputs,
    exit_map_randomization,
    exit_map_seconds,
    exit_map_sizes,
    exit_maps,
    exit_outputs,
    exit_path_layers,
    saliency_at_exits,
    saliency_macs,
)
from xaiexit.exits.inference import predict_with_exits, simulate_exits
from xaiexit.exits.loss import early_exit_loss
from xaiexit.exits.macs import conv2d_macs, count_macs, exit_costs, macs_by_part
from xaiexit.exits.oracle import Oracle, oracle_exits
from xaiexit.exits.rules import (
    Calibrated,
    Entropy,
    ExitRule,
    Margin,
    MaxSoftmax,
    entropy_score,
    margin_score,
    max_softmax_score,
    scores_at_exits,
)
from xaiexit.exits.saliency_rules import Both, CoherenceRule, ConcentrationRule, OracleCoherenceRule
from xaiexit.exits.thresholds import (
    OperatingPoint,
    choose_threshold,
    choose_thresholds,
    exits_from_scores,
    operating_point,
    thresholds_from_scores,
)

__all__ = [
    "ExitRule",
    "MaxSoftmax",
    "Entropy",
    "Margin",
    "Calibrated",
    "max_softmax_score",
    "entropy_score",
    "margin_score",
    "scores_at_exits",
    "early_exit_loss",
    "predict_with_exits",
    "simulate_exits",
    "conv2d_macs",
    "count_macs",
    "macs_by_part",
    "exit_costs",
    "Oracle",
    "oracle_exits",
    "expected_calibration_error",
    "reliability",
    "fit_temperature",
    "choose_threshold",
    "choose_thresholds",
    "OperatingPoint",
    "operating_point",
    "thresholds_from_scores",
    "exits_from_scores",
    "exit_maps",
    "exit_outputs",
    "ExitOutputs",
    "exit_path_layers",
    "exit_map_randomization",
    "exit_map_seconds",
    "saliency_at_exits",
    "saliency_macs",
    "exit_map_sizes",
    "spatial_entropy",
    "moment_of_inertia",
    "as_distribution",
    "cosine_similarity_maps",
    "ssim_maps",
    "normalize_maps",
    "resize_to_common",
    "coherence_scores",
    "ConcentrationRule",
    "CoherenceRule",
    "OracleCoherenceRule",
    "Both",
    "evaluate_exit_rules",
    "ExitRuleReport",
    "RuleResult",
    "RuleIntervals",
    "needed_outputs",
    "intervals",
    "rule_costs",
    "auroc",
    "accuracy_cost_area",
    "train_digits_networks",
    "DIGITS_MODEL",
    "DIGITS_TRAINING",
]
