"""MAC counts against hand counts: one conv, toy nets, an early-exit model's parts and exits."""

import pytest
import torch
from torch import nn

from xaiexit.exits import conv2d_macs, count_macs, exit_costs, macs_by_part
from xaiexit.models import EarlyExitCNN

# (layer, input (C, H, W), hand-computed (H_out, W_out), hand-computed MACs = C_out H_out W_out C_in/g k_h k_w)
CONVS = [
    (nn.Conv2d(3, 8, 3, padding=1), (3, 16, 16), (16, 16), 8 * 16 * 16 * 3 * 3 * 3),
    # stride 2: floor((15 + 2 - 2 - 1) / 2) + 1 = 8
    (nn.Conv2d(3, 8, 3, stride=2, padding=1), (3, 15, 15), (8, 8), 8 * 8 * 8 * 3 * 3 * 3),
    # no padding, kernel 5: 12 - 5 + 1 = 8
    (nn.Conv2d(2, 4, 5), (2, 12, 12), (8, 8), 4 * 8 * 8 * 2 * 5 * 5),
    # dilation 2 widens a 3x3 kernel to 5x5: 16 - 4 = 12
    (nn.Conv2d(2, 4, 3, dilation=2), (2, 16, 16), (12, 12), 4 * 12 * 12 * 2 * 3 * 3),
    # groups 2: each output sees 4 / 2 = 2 input channels
    (nn.Conv2d(4, 6, 3, groups=2), (4, 10, 10), (8, 8), 6 * 8 * 8 * 2 * 3 * 3),
    # depthwise: each output sees one channel
    (nn.Conv2d(4, 4, 3, padding=1, groups=4), (4, 6, 6), (6, 6), 4 * 6 * 6 * 1 * 3 * 3),
    # 1x1
    (nn.Conv2d(5, 7, 1), (5, 4, 3), (4, 3), 7 * 4 * 3 * 5),
    # non-square kernel (1, 3), padding (0, 1): 5 x 7 kept
    (nn.Conv2d(2, 3, (1, 3), padding=(0, 1)), (2, 5, 7), (5, 7), 3 * 5 * 7 * 2 * 1 * 3),
    # kernel (3, 5), stride (2, 1), padding (1, 2): H floor((9 + 2 - 2 - 1) / 2) + 1 = 5, W 11
    (nn.Conv2d(1, 2, (3, 5), stride=(2, 1), padding=(1, 2)), (1, 9, 11), (5, 11), 2 * 5 * 11 * 1 * 3 * 5),
    # non-square stride and dilation: H (10 - 2*2 - 1) // 3 + 1 = 2, W (10 - 1*2 - 1) // 1 + 1 = 8
    (nn.Conv2d(1, 2, 3, stride=(3, 1), dilation=(2, 1)), (1, 10, 10), (2, 8), 2 * 2 * 8 * 1 * 3 * 3),
    # padding="same" keeps the size, even dilated
    (nn.Conv2d(3, 4, 3, padding="same", dilation=2), (3, 9, 9), (9, 9), 4 * 9 * 9 * 3 * 3 * 3),
    (nn.Conv2d(3, 4, (2, 4), padding="same"), (3, 6, 7), (6, 7), 4 * 6 * 7 * 3 * 2 * 4),
    # padding="valid" pads nothing
    (nn.Conv2d(3, 4, 3, padding="valid"), (3, 9, 9), (7, 7), 4 * 7 * 7 * 3 * 3 * 3),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize("layer,shape,out_hw,macs", CONVS, ids=range(len(CONVS)))
def test_conv2d_macs_by_hand(layer, shape, out_hw, macs):
    assert conv2d_macs(layer, shape) == macs
    # the hand output size is the one PyTorch really produces
    assert tuple(layer(torch.zeros(1, *shape)).shape[-2:]) == out_hw


def test_conv2d_macs_ignores_the_bias():
    assert conv2d_macs(nn.Conv2d(3, 8, 3, bias=True), (3, 8, 8)) == conv2d_macs(
        nn.Conv2d(3, 8, 3, bias=False), (3, 8, 8)
    )


def test_conv2d_macs_bad_shapes_name_the_fix():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        conv2d_macs(nn.Conv2d(3, 8, 3), (1, 3, 16, 16))
    with pytest.raises(ValueError, match="takes 3 channels"):
        conv2d_macs(nn.Conv2d(3, 8, 3), (1, 16, 16))


def _toy_net():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),  # 0: 4 * 16 * 16 * 1 * 9
        nn.BatchNorm2d(4),  # 1: free
        nn.ReLU(),  # 2: free
        nn.MaxPool2d(2),  # 3: free -> 4 x 8 x 8
        nn.Conv2d(4, 8, 3),  # 4: 8 * 6 * 6 * 4 * 9 -> 8 x 6 x 6
        nn.AvgPool2d(2),  # 5: one per input value: 8 * 6 * 6 -> 8 x 3 x 3
        nn.AdaptiveAvgPool2d(1),  # 6: 8 * 3 * 3 -> 8 x 1 x 1
        nn.Flatten(),  # 7: free
        nn.Linear(8, 5),  # 8: 8 * 5
    )


def test_count_macs_on_a_toy_net_by_hand():
    torch.manual_seed(0)
    model = _toy_net().train()
    macs = count_macs(model, (1, 16, 16))
    assert list(macs.items()) == [
        ("0", 4 * 16 * 16 * 1 * 9),
        ("4", 8 * 6 * 6 * 4 * 9),
        ("5", 8 * 6 * 6),
        ("6", 8 * 3 * 3),
        ("8", 8 * 5),
    ]
    assert model.training, "the mode is restored"
    assert all(not m._forward_hooks for m in model.modules()), "the hooks are removed"
    assert model[1].num_batches_tracked == 0, "it ran in eval mode: no batch-norm statistics updated"


def test_count_macs_counts_a_shared_layer_each_time_and_linear_per_row():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    assert dict(count_macs(Twice(), (4,))) == {"fc": 2 * 4 * 4}
    # a linear layer applied at each of 6 positions costs 6 times its weights
    assert dict(count_macs(nn.Sequential(nn.Linear(3, 2)), (6, 3))) == {"0": 6 * 3 * 2}
    # a model without parameters runs too
    assert dict(count_macs(nn.Sequential(nn.AvgPool2d(2)), (2, 4, 4))) == {"0": 2 * 4 * 4}


def _model(exits_after=(1, 2)):
    torch.manual_seed(0)
    return EarlyExitCNN(in_channels=1, num_classes=3, widths=(4, 8, 8), exits_after=exits_after, branch_width=4)


# Hand counts for the model above on a 1 x 16 x 16 image. Block i: conv 3x3 pad 1 at the block's
# input size, then max-pool halves it (free). Side exit: conv 3x3 stride 2 pad 1 (halves), avg-pool,
# linear.
BLOCK1 = 4 * 16 * 16 * 1 * 9  # -> 4 x 8 x 8
BLOCK2 = 8 * 8 * 8 * 4 * 9  # -> 8 x 4 x 4
BLOCK3 = 8 * 4 * 4 * 8 * 9  # -> 8 x 2 x 2
EXIT_AFTER_1 = 4 * 4 * 4 * 4 * 9 + 4 * 4 * 4 + 4 * 3  # conv to 4 x 4 x 4, pool, linear 4 -> 3
EXIT_AFTER_2 = 4 * 2 * 2 * 8 * 9 + 4 * 2 * 2 + 4 * 3  # conv to 4 x 2 x 2, pool, linear 4 -> 3
FINAL = 8 * 2 * 2 + 8 * 3  # pool 8 x 2 x 2, linear 8 -> 3


def test_macs_by_part_by_hand_and_sums_to_the_total():
    model = _model()
    parts = macs_by_part(model, (1, 16, 16))
    assert dict(parts) == {
        "block1": BLOCK1,
        "block2": BLOCK2,
        "block3": BLOCK3,
        "exit1": EXIT_AFTER_1,
        "exit2": EXIT_AFTER_2,
        "exit3": FINAL,
    }
    assert list(parts) == ["block1", "block2", "block3", "exit1", "exit2", "exit3"]
    assert sum(parts.values()) == sum(count_macs(model, (1, 16, 16)).values())


def test_exit_costs_add_the_blocks_and_every_head_on_the_way():
    model = _model()
    parts = macs_by_part(model, (1, 16, 16))
    costs = exit_costs(model, (1, 16, 16))
    expected = [
        parts["block1"] + parts["exit1"],
        parts["block1"] + parts["block2"] + parts["exit1"] + parts["exit2"],
        sum(parts.values()),
    ]
    assert costs.tolist() == expected
    assert costs.dtype == torch.float64 and (costs.diff() > 0).all()


def test_exit_costs_with_a_gap_between_exits():
    model = _model(exits_after=(2,))  # exit1 after block2, exit2 the final head after block3
    parts = macs_by_part(model, (1, 16, 16))
    assert parts["exit1"] == EXIT_AFTER_2 and parts["exit2"] == FINAL
    costs = exit_costs(model, (1, 16, 16))
    assert costs.tolist() == [BLOCK1 + BLOCK2 + EXIT_AFTER_2, BLOCK1 + BLOCK2 + BLOCK3 + EXIT_AFTER_2 + FINAL]
    # no side exit: one exit that costs everything
    assert exit_costs(_model(exits_after=()), (1, 16, 16)).tolist() == [BLOCK1 + BLOCK2 + BLOCK3 + FINAL]


def test_the_backbone_alone_costs_the_blocks_and_the_final_head():
    model = _model()
    backbone = sum(count_macs(model.without_branches(), (1, 16, 16)).values())
    assert backbone == BLOCK1 + BLOCK2 + BLOCK3 + FINAL
    assert backbone < exit_costs(model, (1, 16, 16))[-1]  # the branches are an overhead at the last exit
