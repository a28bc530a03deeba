"""Tiny random Hugging Face models built in code, saved to a folder, for testing the foundation
stages offline (no hub): they load through exactly the path users' models do
(``--set models.image_text=FOLDER``). Their weights are random: they prove the plumbing (shapes,
batching, devices, where results go), never accuracy."""

from __future__ import annotations

import json
from pathlib import Path

#: words the tiny tokenizers know whole (others are spelled letter by letter)
WORDS = ("a", "photo", "of", "car", "dog", "cat", "road", "person", "the", "on", "red", "blue", "green",
         "white", "black", "picture", "sky", "sea")


def _clip_vocab(folder: Path) -> tuple[Path, Path]:
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    tokens = ["<|startoftext|>", "<|endoftext|>", *letters, *(c + "</w>" for c in letters),
              *(w + "</w>" for w in WORDS), ".</w>", ",</w>"]
    vocab = folder / "vocab.json"
    merges = folder / "merges.txt"
    vocab.write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    merges.write_text("#version: 0.2\n", encoding="utf-8")
    return vocab, merges


def make_tiny_clip(folder: str | Path, *, hidden: int = 32, layers: int = 2, image_size: int = 32,
                   patch: int = 8, projection: int = 16, seed: int = 0) -> Path:
    """A random CLIPModel (hidden size ``hidden``, ``layers`` layers per tower) with its CLIPProcessor
    (a tiny CLIP BPE vocabulary) saved in ``folder``; returns the folder."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = _clip_vocab(folder)
    tokenizer = CLIPTokenizer(str(vocab), str(merges), model_max_length=77)
    size = len(tokenizer)
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config=dict(hidden_size=hidden, intermediate_size=hidden * 2, num_attention_heads=4,
                         num_hidden_layers=layers, vocab_size=size, max_position_embeddings=77,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=hidden, intermediate_size=hidden * 2, num_attention_heads=4,
                           num_hidden_layers=layers, image_size=image_size, patch_size=patch),
        projection_dim=projection)
    CLIPModel(config).eval().save_pretrained(folder)
    image = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    CLIPProcessor(image_processor=image, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def make_tiny_blip(folder: str | Path, *, hidden: int = 32, layers: int = 2, image_size: int = 32, seed: int = 0) -> Path:
    """A random BlipForConditionalGeneration captioner with its BlipProcessor (a tiny BERT word
    vocabulary, passed as ``vocab=``: transformers 5 ignores ``vocab_file=``) saved in ``folder``."""
    import torch
    from transformers import (BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor,
                              BlipProcessor)

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {w: i for i, w in enumerate(("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS))}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True)
    torch.manual_seed(seed)
    config = BlipConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_attention_heads=4, num_hidden_layers=layers, max_position_embeddings=64,
                         bos_token_id=2, sep_token_id=3, pad_token_id=0, encoder_hidden_size=hidden),
        vision_config=dict(hidden_size=hidden, intermediate_size=hidden * 2, num_attention_heads=4,
                           num_hidden_layers=layers, image_size=image_size, patch_size=8),
        projection_dim=16)
    BlipForConditionalGeneration(config).eval().save_pretrained(folder)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": image_size, "width": image_size}),
                  tokenizer=tokenizer).save_pretrained(folder)
    return folder


def make_tiny_clap(folder: str | Path, *, hidden: int = 32, seed: int = 0) -> Path:
    """A random ClapModel (2-layer RoBERTa text tower, 2-stage HTS-AT audio tower, 16 mel bins) with
    its ClapProcessor (a tiny RoBERTa BPE vocabulary; 48 kHz, 2 s clips) saved in ``folder``."""
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *letters, *("\u0120" + c for c in letters),
              *("\u0120" + w for w in WORDS)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=64)
    torch.manual_seed(seed)
    config = ClapConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=70, pad_token_id=1,
                         bos_token_id=0, eos_token_id=2, projection_dim=16),
        audio_config=dict(hidden_size=hidden, patch_embeds_hidden_size=16, depths=[1, 1], num_attention_heads=[2, 2],
                          window_size=4, spec_size=64, num_mel_bins=16, patch_stride=[4, 4], enable_fusion=False,
                          projection_dim=16),
        projection_dim=16)
    ClapModel(config).eval().save_pretrained(folder)
    extractor = ClapFeatureExtractor(feature_size=16, sampling_rate=48000, hop_length=480, max_length_s=2,
                                     fft_window_size=1024, truncation="rand_trunc", padding="repeatpad")
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


#: the classes of the tiny audio classifier
TAGS = ("Bell", "Dog", "Speech", "Music")


def make_tiny_ast(folder: str | Path, *, hidden: int = 32, seed: int = 0) -> Path:
    """A random ASTForAudioClassification (2 layers, 16 mel bins, 100 frames, the classes in
    :data:`TAGS`) with its ASTFeatureExtractor (16 kHz) saved in ``folder``."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = ASTConfig(hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4, intermediate_size=hidden * 2,
                       patch_size=16, frequency_stride=8, time_stride=8, max_length=100, num_mel_bins=16,
                       num_labels=len(TAGS), id2label=dict(enumerate(TAGS)),
                       label2id={t: i for i, t in enumerate(TAGS)}, problem_type="multi_label_classification")
    ASTForAudioClassification(config).eval().save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=16, max_length=100, sampling_rate=16000).save_pretrained(folder)
    return folder


def tiny_model_sets(folder: str | Path) -> list[str]:
    """``--set`` items giving every role that has no default model a tiny random one (built in
    ``folder``), so a run with every registered encoder enabled can start offline."""
    folder = Path(folder)
    return [f"models.image_text={make_tiny_clip(folder / 'image_text')}",
            f"models.caption={make_tiny_blip(folder / 'caption')}",
            f"models.audio_text={make_tiny_clap(folder / 'audio_text')}",
            f"models.audio_tags={make_tiny_ast(folder / 'audio_tags')}"]


def make_tiny_diffusion(folder: str | Path, *, seed: int = 0) -> Path:
    """A random Stable Diffusion pipeline (32-channel UNet2DConditionModel, AutoencoderKL, a 32-wide
    CLIPTextModel, the tiny CLIP tokenizer, a DDIM scheduler), as diffusers' own tests build one,
    saved in ``folder``."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = folder / "_vocab"
    words.mkdir(exist_ok=True)
    vocab, merges = _clip_vocab(words)
    tokenizer = CLIPTokenizer(str(vocab), str(merges), model_max_length=77)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4)
    text = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32,
                                        intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4,
                                        num_hidden_layers=2, vocab_size=len(tokenizer)))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=tokenizer, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder
