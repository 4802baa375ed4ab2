"""Factories of the agreement benchmark: real models from pip packages, tiny configs, random weights.

Each function returns ``(model, example_args)`` or an ``ExportSpec``-shaped dict, as a
``[[tool.mllint.models]]`` factory does. This file is copied next to the package copies the benchmark
checks, and the ``--confirm`` runners import it from there: it is not part of mllint.
"""

from __future__ import annotations

import torch

torch.manual_seed(0)

TXT = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
)


SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)


def _ids(batch: int = 2, length: int = 7) -> torch.Tensor:
    return torch.randint(1, 99, (batch, length))


def _img(size: int = 32, channels: int = 3, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, channels, size, size)


def _hf(config_name: str, model_name: str, inputs: str = "ids", **overrides):
    import transformers

    params = dict(TXT) if inputs == "ids" else {}
    params.update(overrides)
    config = getattr(transformers, config_name)(**params)
    model = getattr(transformers, model_name)(config).eval()
    if inputs == "ids":
        return model, (_ids(),)
    if inputs == "pixels":
        return model, (_img(int(params.get("image_size", 32)), int(params.get("num_channels", 3))),)
    if inputs == "audio":
        return model, (torch.randn(2, 1600),)
    raise ValueError(inputs)


# -- transformers: text ------------------------------------------------------------------------------
def hf_bert():
    return _hf("BertConfig", "BertModel")


def hf_roberta():
    return _hf("RobertaConfig", "RobertaModel", pad_token_id=0)


def hf_distilbert():
    return _hf("DistilBertConfig", "DistilBertModel", dim=32, n_layers=2, n_heads=4, hidden_dim=37)


def hf_albert():
    return _hf("AlbertConfig", "AlbertModel", embedding_size=16)


def hf_electra():
    return _hf("ElectraConfig", "ElectraModel", embedding_size=16)


def hf_mpnet():
    return _hf("MPNetConfig", "MPNetModel")


def hf_deberta_v2():
    return _hf("DebertaV2Config", "DebertaV2Model")


def hf_mobilebert():
    return _hf(
        "MobileBertConfig",
        "MobileBertModel",
        embedding_size=16,
        intra_bottleneck_size=16,
        true_hidden_size=16,
        num_feedforward_networks=1,
    )


def hf_gpt2():
    return _hf("GPT2Config", "GPT2Model", n_embd=32, n_layer=2, n_head=4, n_positions=64)


def hf_gpt_neo():
    return _hf(
        "GPTNeoConfig",
        "GPTNeoModel",
        num_layers=2,
        attention_types=[[["global", "local"], 1]],
        window_size=4,
        num_heads=4,
    )


def hf_opt():
    return _hf("OPTConfig", "OPTModel", ffn_dim=37, word_embed_proj_dim=32)


def hf_bloom():
    return _hf("BloomConfig", "BloomModel", n_layer=2, n_head=4)


def hf_llama():
    return _hf("LlamaConfig", "LlamaModel", num_key_value_heads=2)


def hf_mistral():
    return _hf("MistralConfig", "MistralModel", num_key_value_heads=2, sliding_window=None)


def hf_qwen2():
    return _hf("Qwen2Config", "Qwen2Model", num_key_value_heads=2)


def hf_gemma():
    return _hf("GemmaConfig", "GemmaModel", num_key_value_heads=2, head_dim=8)


def hf_phi():
    return _hf("PhiConfig", "PhiModel")


def hf_falcon():
    return _hf("FalconConfig", "FalconModel", new_decoder_architecture=False, multi_query=True)


def hf_gptj():
    return _hf("GPTJConfig", "GPTJModel", n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64)


def hf_t5_encoder():
    return _hf("T5Config", "T5EncoderModel", d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4)


def hf_bart():
    return _hf(
        "BartConfig",
        "BartModel",
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
    )


def hf_clip_text():
    return _hf("CLIPTextConfig", "CLIPTextModel")


def hf_bert_classifier():
    return _hf("BertConfig", "BertForSequenceClassification", num_labels=3)


def hf_gpt2_lm_head():
    return _hf("GPT2Config", "GPT2LMHeadModel", n_embd=32, n_layer=2, n_head=4, n_positions=64)


def hf_distilbert_classifier():
    return _hf(
        "DistilBertConfig",
        "DistilBertForSequenceClassification",
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=37,
        num_labels=3,
    )


# -- transformers: vision and audio --------------------------------------------------------------------
def hf_vit():
    return _hf("ViTConfig", "ViTModel", "pixels", image_size=32, patch_size=8, **SMALL)


def hf_vit_classifier():
    return _hf("ViTConfig", "ViTForImageClassification", "pixels", image_size=32, patch_size=8, num_labels=3, **SMALL)


def hf_deit():
    return _hf("DeiTConfig", "DeiTModel", "pixels", image_size=32, patch_size=8, **SMALL)


def hf_swin():
    return _hf(
        "SwinConfig",
        "SwinModel",
        "pixels",
        image_size=32,
        patch_size=4,
        embed_dim=16,
        depths=[1, 1],
        num_heads=[2, 2],
        window_size=4,
    )


def hf_convnext():
    return _hf("ConvNextConfig", "ConvNextModel", "pixels", hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)


def hf_resnet():
    return _hf("ResNetConfig", "ResNetModel", "pixels", embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])


def hf_mobilenet_v2():
    return _hf("MobileNetV2Config", "MobileNetV2Model", "pixels", depth_multiplier=0.35, image_size=32)


def hf_segformer():
    return _hf(
        "SegformerConfig",
        "SegformerModel",
        "pixels",
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[8, 16],
        num_attention_heads=[1, 2],
        strides=[4, 2],
        patch_sizes=[7, 3],
        mlp_ratios=[2, 2],
    )


def hf_wav2vec2():
    return _hf(
        "Wav2Vec2Config",
        "Wav2Vec2Model",
        "audio",
        conv_dim=(8, 8),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
        **SMALL,
    )


# -- MONAI -------------------------------------------------------------------------------------------
def monai_basic_unet():
    from monai.networks.nets import BasicUNet

    return BasicUNet(spatial_dims=2, in_channels=1, out_channels=2, features=(4, 4, 8, 8, 16, 4)).eval(), (_img(32, 1),)


def monai_unet():
    from monai.networks.nets import UNet

    net = UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2), num_res_units=1)
    return net.eval(), (_img(32, 1),)


def monai_attention_unet():
    from monai.networks.nets import AttentionUnet

    return AttentionUnet(spatial_dims=2, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2)).eval(), (
        _img(32, 1),
    )


def monai_segresnet():
    from monai.networks.nets import SegResNet

    return SegResNet(
        spatial_dims=2, init_filters=8, in_channels=1, out_channels=2, blocks_down=(1, 1), blocks_up=(1,)
    ).eval(), (_img(32, 1),)


def monai_dynunet():
    from monai.networks.nets import DynUNet

    net = DynUNet(
        spatial_dims=2,
        in_channels=1,
        out_channels=2,
        kernel_size=[3, 3, 3],
        strides=[1, 2, 2],
        upsample_kernel_size=[2, 2],
        filters=[4, 8, 16],
    )
    return net.eval(), (_img(32, 1),)


def monai_vnet():
    from monai.networks.nets import VNet

    return VNet(spatial_dims=3, in_channels=1, out_channels=2).eval(), (torch.randn(1, 1, 16, 16, 16),)


def monai_highresnet():
    from monai.networks.nets import HighResNet

    return HighResNet(spatial_dims=2, in_channels=1, out_channels=2).eval(), (_img(16, 1),)


def monai_densenet():
    from monai.networks.nets import DenseNet

    net = DenseNet(spatial_dims=2, in_channels=1, out_channels=3, init_features=4, growth_rate=4, block_config=(1, 1))
    return net.eval(), (_img(32, 1),)


def monai_resnet():
    from monai.networks.nets import ResNet

    net = ResNet(
        block="basic",
        layers=[1, 1, 1, 1],
        block_inplanes=[4, 8, 8, 8],
        spatial_dims=2,
        n_input_channels=1,
        num_classes=3,
    )
    return net.eval(), (_img(32, 1),)


def monai_efficientnet():
    from monai.networks.nets import EfficientNetBN

    net = EfficientNetBN("efficientnet-b0", pretrained=False, spatial_dims=2, in_channels=1, num_classes=3)
    return net.eval(), (_img(32, 1),)


def monai_swin_unetr():
    from monai.networks.nets import SwinUNETR

    net = SwinUNETR(
        in_channels=1, out_channels=2, feature_size=12, spatial_dims=2, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1)
    )
    return net.eval(), (_img(64, 1),)


def monai_unetr():
    from monai.networks.nets import UNETR

    net = UNETR(
        in_channels=1,
        out_channels=2,
        img_size=(32, 32),
        feature_size=4,
        hidden_size=32,
        mlp_dim=37,
        num_heads=4,
        spatial_dims=2,
    )
    return net.eval(), (_img(32, 1),)


def monai_vit():
    from monai.networks.nets import ViT

    net = ViT(
        in_channels=1,
        img_size=(32, 32),
        patch_size=(8, 8),
        hidden_size=32,
        mlp_dim=37,
        num_layers=2,
        num_heads=4,
        spatial_dims=2,
        classification=True,
    )
    return net.eval(), (_img(32, 1),)


def monai_autoencoder():
    from monai.networks.nets import AutoEncoder

    net = AutoEncoder(spatial_dims=2, in_channels=1, out_channels=1, channels=(4, 8), strides=(2, 2))
    return net.eval(), (_img(32, 1),)


def monai_varautoencoder():
    from monai.networks.nets import VarAutoEncoder

    net = VarAutoEncoder(
        spatial_dims=2, in_shape=(1, 32, 32), out_channels=1, latent_size=4, channels=(4, 8), strides=(2, 2)
    )
    return net.eval(), (_img(32, 1),)


def monai_regressor():
    from monai.networks.nets import Regressor

    return Regressor(in_shape=(1, 32, 32), out_shape=(2,), channels=(4, 8), strides=(2, 2)).eval(), (_img(32, 1),)


def monai_generator():
    from monai.networks.nets import Generator

    return Generator(latent_shape=(8,), start_shape=(4, 8, 8), channels=(4, 1), strides=(2, 2)).eval(), (
        torch.randn(2, 8),
    )


def monai_basic_unetplusplus():
    from monai.networks.nets import BasicUNetPlusPlus

    net = BasicUNetPlusPlus(spatial_dims=2, in_channels=1, out_channels=2, features=(4, 4, 8, 8, 16, 4))
    return net.eval(), (_img(32, 1),)


def monai_seresnet():
    from monai.networks.nets import SEResNet50

    return SEResNet50(spatial_dims=2, in_channels=1, num_classes=3, layers=(1, 1, 1, 1)).eval(), (_img(32, 1),)


# -- x-transformers ----------------------------------------------------------------------------------
def xt_decoder():
    from x_transformers import Decoder, TransformerWrapper

    net = TransformerWrapper(num_tokens=99, max_seq_len=32, attn_layers=Decoder(dim=32, depth=2, heads=4))
    return net.eval(), (_ids(),)


def xt_encoder():
    from x_transformers import Encoder, TransformerWrapper

    net = TransformerWrapper(num_tokens=99, max_seq_len=32, attn_layers=Encoder(dim=32, depth=2, heads=4))
    return net.eval(), (_ids(),)


def xt_encoder_rotary():
    from x_transformers import Encoder, TransformerWrapper

    net = TransformerWrapper(
        num_tokens=99, max_seq_len=32, attn_layers=Encoder(dim=32, depth=2, heads=4, rotary_pos_emb=True, ff_glu=True)
    )
    return net.eval(), (_ids(),)


def xt_continuous():
    from x_transformers import ContinuousTransformerWrapper, Decoder

    net = ContinuousTransformerWrapper(
        dim_in=8, dim_out=8, max_seq_len=32, attn_layers=Decoder(dim=32, depth=2, heads=4)
    )
    return net.eval(), (torch.randn(2, 7, 8),)


def xt_vit():
    from x_transformers import Encoder, ViTransformerWrapper

    net = ViTransformerWrapper(
        image_size=32, patch_size=8, num_classes=3, attn_layers=Encoder(dim=32, depth=2, heads=4)
    )
    return net.eval(), (_img(32),)


# -- smaller single-model packages ---------------------------------------------------------------------
def effnet_b0():
    from efficientnet_pytorch import EfficientNet

    return EfficientNet.from_name("efficientnet-b0", num_classes=3).eval(), (_img(32),)


def effnet_b0_export_swish():
    from efficientnet_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-b0", num_classes=3)
    net.set_swish(memory_efficient=False)
    return net.eval(), (_img(32),)


def tabnet():
    from pytorch_tabnet.tab_network import TabNet

    net = TabNet(
        input_dim=6,
        output_dim=2,
        n_d=4,
        n_a=4,
        n_steps=2,
        cat_idxs=[0],
        cat_dims=[5],
        cat_emb_dim=[2],
        group_attention_matrix=torch.eye(6),
    )
    x = torch.rand(4, 6)
    x[:, 0] = torch.randint(0, 5, (4,)).float()
    return net.eval(), (x,)


def tabnet_no_embeddings():
    from pytorch_tabnet.tab_network import TabNetNoEmbeddings

    return TabNetNoEmbeddings(input_dim=6, output_dim=2, n_d=4, n_a=4, n_steps=2).eval(), (torch.rand(4, 6),)


def perceiver():
    from perceiver_pytorch import Perceiver

    net = Perceiver(
        input_channels=3,
        input_axis=2,
        num_freq_bands=4,
        max_freq=10.0,
        depth=1,
        num_latents=8,
        latent_dim=16,
        cross_heads=1,
        latent_heads=2,
        cross_dim_head=8,
        latent_dim_head=8,
        num_classes=3,
    )
    return net.eval(), (torch.randn(2, 8, 8, 3),)


def perceiver_io():
    from perceiver_pytorch import PerceiverIO

    net = PerceiverIO(
        dim=8,
        queries_dim=8,
        logits_dim=3,
        depth=1,
        num_latents=8,
        latent_dim=16,
        cross_heads=1,
        latent_heads=2,
        cross_dim_head=8,
        latent_dim_head=8,
    )
    return {"model": net.eval(), "args": (torch.randn(2, 10, 8),), "kwargs": {"queries": torch.randn(2, 4, 8)}}


def perceiver_lm():
    from perceiver_pytorch.perceiver_io import PerceiverLM

    net = PerceiverLM(
        num_tokens=99,
        dim=16,
        depth=1,
        max_seq_len=32,
        num_latents=8,
        latent_dim=16,
        cross_heads=1,
        latent_heads=2,
        cross_dim_head=8,
        latent_dim_head=8,
    )
    return net.eval(), (_ids(),)


def performer_lm():
    from performer_pytorch import PerformerLM

    net = PerformerLM(num_tokens=99, max_seq_len=32, dim=32, depth=1, heads=4, causal=False, nb_features=8)
    return net.eval(), (_ids(),)


def performer_causal():
    from performer_pytorch import PerformerLM

    net = PerformerLM(num_tokens=99, max_seq_len=32, dim=32, depth=1, heads=4, causal=True, nb_features=8)
    return net.eval(), (_ids(),)


def mlp_mixer():
    from mlp_mixer_pytorch import MLPMixer

    return MLPMixer(image_size=32, channels=3, patch_size=8, dim=16, depth=2, num_classes=3).eval(), (_img(32),)


def conformer_block():
    from conformer import ConformerBlock

    return ConformerBlock(dim=32, dim_head=8, heads=4, conv_kernel_size=7).eval(), (torch.randn(2, 12, 32),)


def conformer_stack():
    from conformer import Conformer

    return Conformer(dim=32, depth=2, dim_head=8, heads=4, conv_kernel_size=7).eval(), (torch.randn(2, 12, 32),)


def linformer():
    from linformer import Linformer

    return Linformer(dim=32, seq_len=16, depth=1, heads=4, k=8).eval(), (torch.randn(2, 16, 32),)


def linformer_lm():
    from linformer import LinformerLM

    return LinformerLM(num_tokens=99, dim=32, seq_len=16, depth=1, heads=4, k=8).eval(), (_ids(2, 16),)
