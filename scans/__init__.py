"""The scan door (扫码入口): every scan, a volunteer's card, a station's code or a diner's card,
comes in here, is judged by what its code is (`judge`), and is stored with its answer."""
