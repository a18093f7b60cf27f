"""A flat pixel-space diffusion transformer (DiT; Peebles & Xie 2023) built from HDiT's blocks.

Patches of `patch` x `patch` pixels become tokens, `depth` blocks with global attention run on
all of them, and a zero-started linear map turns each token back into its patch. The blocks,
mapping network and conditioning are nets.hdit_blocks', as HDiT's, so a comparison between the two
measures the hourglass and the local attention, not a different block design (the HDiT paper's
DiT baseline differed from HDiT in its training set-up too; k-diffusion issue #96). Global
attention over all H W / patch^2 tokens makes its cost grow with the square of the pixels.
net(x, c_noise, label=None): x (B, C, H, W), c_noise (B,) -> (B, C, H, W).
"""

from einops import rearrange
from torch import nn

from minidiff.nets.hdit import TokenMerge, TokenSplit, check_size
from minidiff.nets.hdit_blocks import Block, MappingNetwork
from minidiff.nets.layers import zero_init


class DiT(nn.Module):
    def __init__(self, in_channels=3, width=64, depth=4, patch=2, head_dim=16, num_classes=0,
                 mapping_depth=1):  # fmt: skip
        super().__init__()
        self.patch = patch
        self.mapping = MappingNetwork(width, mapping_depth, num_classes)
        self.patch_in = TokenMerge(in_channels, width, patch)
        self.blocks = nn.ModuleList(Block(width, head_dim, width) for _ in range(depth))
        self.norm_out = nn.RMSNorm(width, eps=1e-6)
        self.patch_out = TokenSplit(width, in_channels, patch, skip=None)
        zero_init(self.patch_out.proj)  # the model starts at F = 0
        self.config = dict(in_channels=in_channels, width=width, depth=depth, patch=patch,
                           head_dim=head_dim, num_classes=num_classes,
                           mapping_depth=mapping_depth)  # fmt: skip

    def forward(self, x, c_noise, label=None):
        for name, size in (("height", x.shape[-2]), ("width", x.shape[-1])):
            check_size(f"x's {name}", size, self.patch)
        cond = self.mapping(c_noise, label)
        h = self.patch_in(rearrange(x, "b c h w -> b h w c"))
        for block in self.blocks:
            h = block(h, cond)
        return rearrange(self.patch_out(self.norm_out(h)), "b h w c -> b c h w")
